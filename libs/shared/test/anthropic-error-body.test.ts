import { describe, expect, it } from 'vitest';
import { openAIErrorDialect, upstreamBodyIn } from '../src/fold/error-dialect.js';
import { anthropicErrorDialect } from '../src/messages/anthropic-error-dialect.js';

// An upstream's error body as a client of /v1/messages gets it: Anthropic's shape, the type by the
// status as Anthropic's API uses them, the upstream's own message kept.

const openAIBody = (message: string) =>
  JSON.stringify({ error: { message, type: 'some_type', param: null, code: 'some_code' } });

const inAnthropicShape = (status: number, body: string) =>
  JSON.parse(upstreamBodyIn(anthropicErrorDialect, status, body)) as unknown;

describe('an upstream error body on the Anthropic dialect', () => {
  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [402, 'billing_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [409, 'conflict_error'],
    [413, 'request_too_large'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [504, 'timeout_error'],
    [529, 'overloaded_error'],
    [503, 'overloaded_error'],
    [501, 'api_error'],
    [502, 'api_error'],
    [405, 'invalid_request_error'],
    [422, 'invalid_request_error'],
  ])("in OpenAI's shape with status %i becomes %s, keeping the message", (status, type) => {
    expect(inAnthropicShape(status, openAIBody('It went wrong'))).toEqual({
      type: 'error',
      error: { type, message: 'It went wrong' },
    });
  });

  it.each([
    ['a bare error string', '{"error":"model is busy"}', 'model is busy'],
    [
      "vLLM's top-level message",
      '{"object":"error","message":"bad input","type":"BadRequestError"}',
      'bad input',
    ],
    ['plain text', '  Bad Gateway\n', 'Bad Gateway'],
    ['an HTML page, cut', `<html>${'x'.repeat(1000)}</html>`, `<html>${'x'.repeat(294)}…`],
    ['nothing', '', 'The upstream answered with status 500.'],
  ])('in another shape (%s) keeps what it says', (_label, body, message) => {
    expect(inAnthropicShape(500, body)).toEqual({ type: 'error', error: { type: 'api_error', message } });
  });

  it("already in Anthropic's shape passes unchanged, byte for byte", () => {
    const body =
      '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}';
    expect(upstreamBodyIn(anthropicErrorDialect, 529, body)).toBe(body);
  });

  it('is relayed as sent on the OpenAI dialect, and so is any answer below 400', () => {
    expect(upstreamBodyIn(openAIErrorDialect, 429, openAIBody('slow'))).toBe(openAIBody('slow'));
    expect(upstreamBodyIn(anthropicErrorDialect, 200, '{"id":"msg_1"}')).toBe('{"id":"msg_1"}');
  });
});

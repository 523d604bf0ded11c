import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { errors, isProxyError, ProxyError, UpstreamReportedError } from '../src/fold/errors.js';
import { messagesApi } from '../src/index.js';
import { type AnthropicMessage, proxyErrorToAnthropic } from '../src/messages/index.js';
import { responsesStreamError } from '../src/responses/index.js';
import { foldSse } from './fold-through-sink.js';
import {
  bodyOf,
  type JsonEvent,
  loadSseFixtures,
  rejectionOf,
  replayFetch,
  sseBlocks,
  sseOf,
} from './sse-fixtures.js';

/**
 * Broken, failed and unusual Messages streams. No public recording has a whole stream with an
 * error event, a stop sequence or a cut, so these are made by hand in Anthropic's event shapes
 * (the error frame is the one quoted in the fixtures README); the SDK is the oracle where it can be.
 */

const MESSAGE = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-test',
  content: [],
  stop_reason: null,
  stop_sequence: null,
  usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 },
};
const start = { type: 'message_start', message: MESSAGE };
const textStart = { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
const text = (delta: string, index = 0) => ({
  type: 'content_block_delta',
  index,
  delta: { type: 'text_delta', text: delta },
});
const stop = (index = 0) => ({ type: 'content_block_stop', index });
const messageDelta = (stopReason: string, stopSequence: string | null = null) => ({
  type: 'message_delta',
  delta: { stop_reason: stopReason, stop_sequence: stopSequence },
  usage: { output_tokens: 4 },
});
const messageStop = { type: 'message_stop' };
const HELLO = [start, textStart, { type: 'ping' }, text('Hel'), text('lo'), stop()];

/** The frame quoted in anthropics/anthropic-sdk-go#200, whitespace padding included. */
const OVERLOADED =
  '{"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"} }';

async function failureOf(sse: string): Promise<ProxyError> {
  const error = await rejectionOf(foldSse(messagesApi, bodyOf(sse)));
  if (!isProxyError(error)) throw new Error(`expected a ProxyError, got ${String(error)}`);
  return error;
}

const failure = (...events: (JsonEvent | string)[]): Promise<ProxyError> => failureOf(sseOf(...events));

async function messageOf(...events: (JsonEvent | string)[]): Promise<AnthropicMessage> {
  return JSON.parse((await foldSse(messagesApi, bodyOf(sseOf(...events)))).body) as AnthropicMessage;
}

function sdkClient(sse: string): Anthropic {
  return new Anthropic({
    apiKey: 'test',
    baseURL: 'http://127.0.0.1:9',
    maxRetries: 0,
    fetch: replayFetch(sse),
  });
}

const PARAMS = { model: 'test', max_tokens: 1024, messages: [{ role: 'user' as const, content: 'test' }] };

describe('an error event', () => {
  it('overloaded_error mid-stream is a 529, as Anthropic answers it without streaming; the SDK fails too', async () => {
    const sse = `${sseOf(...HELLO.slice(0, 4))}event: error\ndata: ${OVERLOADED}\n\n`;
    const error = await failureOf(sse);
    expect(error.status).toBe(529);
    expect(error.toBody().error.code).toBe('overloaded_error');
    expect(error.message).toContain('Overloaded');
    const sdkError = await rejectionOf(sdkClient(sse).messages.stream(PARAMS).finalMessage());
    expect(sdkError).toBeInstanceOf(Anthropic.APIError);
    expect(String(sdkError)).toContain('Overloaded');
  });

  it.each([
    ['invalid_request_error', 400],
    ['authentication_error', 401],
    ['billing_error', 402],
    ['permission_error', 403],
    ['not_found_error', 404],
    ['conflict_error', 409],
    ['request_too_large', 413],
    ['rate_limit_error', 429],
    ['api_error', 500],
    ['timeout_error', 504],
    ['overloaded_error', 529],
  ])('%s is a %i and renders back as itself', async (type, status) => {
    const error = await failure(start, {
      type: 'error',
      error: { type, message: 'no' },
      request_id: 'req_1',
    });
    expect(error.status).toBe(status);
    expect(error).toBeInstanceOf(UpstreamReportedError);
    expect(error.toBody().error.code).toBe(type);
    expect(proxyErrorToAnthropic(error)).toEqual({
      status,
      body: { type: 'error', error: { type, message: error.message } },
    });
  });

  it('of a type we do not know is a 502 upstream_stream_error, rendered as api_error', async () => {
    const error = await failure(start, { type: 'error', error: { type: 'brand_new_error', message: 'hm' } });
    expect([error.status, error.code]).toEqual([502, 'upstream_stream_error']);
    expect(error.message).toContain('[brand_new_error]');
    expect(proxyErrorToAnthropic(error).body.error.type).toBe('api_error');
  });

  it('before message_start is still the error', async () => {
    expect((await failure(OVERLOADED)).status).toBe(529);
  });
});

describe('proxyErrorToAnthropic', () => {
  it.each([
    ['a broken stream', errors.upstreamStream('cut', 'upstream_stream_truncated'), 502, 'api_error'],
    ['a bad request', errors.badRequest('no model'), 400, 'invalid_request_error'],
    ['a full queue', errors.unavailable('busy', 'queue_full'), 503, 'overloaded_error'],
    ['an upstream timeout', errors.timeout('idle', 1000), 504, 'timeout_error'],
    [
      'an OpenAI quota error',
      responsesStreamError({ code: 'insufficient_quota', message: 'quota' }, 'error event'),
      429,
      'rate_limit_error',
    ],
    ['an authentication failure', new ProxyError('invalid_api_key', 'bad key'), 401, 'authentication_error'],
  ])('renders %s with its status and the matching type', (_label, error, status, type) => {
    expect(proxyErrorToAnthropic(error)).toEqual({
      status,
      body: { type: 'error', error: { type, message: error.message } },
    });
  });

  it("is read by the Anthropic SDK as the error it stands for (the SDK's own error classes)", async () => {
    const cases: [ProxyError, abstract new (...args: never[]) => InstanceType<typeof Anthropic.APIError>][] =
      [
        [errors.upstreamStream('cut', 'upstream_stream_truncated'), Anthropic.InternalServerError],
        [errors.badRequest('no model'), Anthropic.BadRequestError],
        [
          responsesStreamError({ code: 'rate_limit_exceeded', message: 'slow' }, 'x'),
          Anthropic.RateLimitError,
        ],
      ];
    for (const [error, errorClass] of cases) {
      const { status, body } = proxyErrorToAnthropic(error);
      const client = new Anthropic({
        apiKey: 'test',
        baseURL: 'http://127.0.0.1:9',
        maxRetries: 0,
        fetch: async () =>
          new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }),
      });
      const thrown = await rejectionOf(client.messages.create(PARAMS));
      expect(thrown).toBeInstanceOf(errorClass);
      if (!(thrown instanceof Anthropic.APIError)) continue;
      expect(thrown.status).toBe(status);
      expect(thrown.error).toEqual(body);
    }
  });
});

describe('a malformed stream is a 502 upstream_malformed_chunk', () => {
  const toolStart = {
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
  };
  const toolJson = (json: string) => ({
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: json },
  });

  it.each([
    ['an event that is not JSON', [start, '{"type": "content_block_delta", "index": 0, ']],
    ['an event that is a JSON array', [start, '[1]']],
    ['a delta before message_start', [text('x'), messageStop]],
    ['a second message_start', [...HELLO, start]],
    ['a delta for a block that never started', [start, text('x', 3)]],
    ['a content_block_stop for a block that never started', [start, stop(2)]],
    ['a second start for the same block', [...HELLO, textStart]],
    ['a text_delta for a tool block', [start, toolStart, text('x', 1)]],
    [
      'a thinking_delta for a text block',
      [
        start,
        textStart,
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm' } },
      ],
    ],
    [
      'an input_json_delta for a text block',
      [
        start,
        textStart,
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } },
      ],
    ],
    ['a block without a type', [start, { type: 'content_block_start', index: 0, content_block: {} }]],
    ['a message_start without its message', [{ type: 'message_start' }]],
    [
      'a tool input that is not JSON',
      [start, toolStart, toolJson('{"a": '), stop(1), messageDelta('tool_use'), messageStop],
    ],
  ])('%s', async (_label, events) => {
    const error = await failure(...(events as (JsonEvent | string)[]));
    expect(error.code).toBe('upstream_malformed_chunk');
    expect(error.status).toBe(502);
  });

  it('but an unfinished tool input at max_tokens is the answer Anthropic gives, parsed as far as it came', async () => {
    const message = await messageOf(
      start,
      toolStart,
      toolJson('{"n": 1, "a": "b'),
      messageDelta('max_tokens'),
      messageStop,
    );
    // The string cut off is dropped with its key, as Anthropic's SDKs do.
    expect(message.content).toEqual([{ type: 'tool_use', id: 'toolu_1', name: 'f', input: { n: 1 } }]);
    expect(message.stop_reason).toBe('max_tokens');
  });
});

describe('a stream cut before message_stop', () => {
  it('mid-text is a 502 upstream_stream_truncated', async () => {
    const error = await failure(...HELLO.slice(0, 4));
    expect([error.status, error.code]).toEqual([502, 'upstream_stream_truncated']);
  });

  it('fixture 07 cut after any event before its message_delta is truncated', async () => {
    const fixture = loadSseFixtures('messages-streams').find((f) => f.prefix === '07');
    const blocks = sseBlocks(fixture?.sse ?? '');
    const messageDeltaAt = blocks.findIndex((block) => block.includes('"message_delta"'));
    expect(messageDeltaAt).toBeGreaterThan(10);
    for (let cut = 0; cut < messageDeltaAt; cut += 1) {
      const error = await rejectionOf(foldSse(messagesApi, bodyOf(blocks.slice(0, cut).join('\n\n'))));
      expect(isProxyError(error) && error.code, `cut after ${cut} events`).toBe('upstream_stream_truncated');
    }
  });

  it('anywhere in the middle of an event is malformed or truncated, never an answer', async () => {
    const whole = sseOf(...HELLO, messageDelta('end_turn'));
    const before = sseOf(...HELLO).length;
    for (let cut = 1; cut < before; cut += 5) {
      const error = await rejectionOf(foldSse(messagesApi, bodyOf(whole.slice(0, cut))));
      expect(isProxyError(error) && error.status, `cut at ${cut}`).toBe(502);
    }
  });

  it('with a stop reason and every block stopped is whole (a provider that leaves message_stop out)', async () => {
    const message = await messageOf(...HELLO, messageDelta('end_turn'));
    expect(message.content).toEqual([{ type: 'text', text: 'Hello' }]);
    expect(message.stop_reason).toBe('end_turn');
  });

  it('with a stop reason but a block still open is truncated', async () => {
    expect((await failure(...HELLO.slice(0, 5), messageDelta('end_turn'))).code).toBe(
      'upstream_stream_truncated',
    );
  });

  it('before message_start is truncated; [DONE] with nothing before it is empty', async () => {
    expect((await failure()).code).toBe('upstream_stream_truncated');
    expect((await failure({ type: 'ping' })).code).toBe('upstream_stream_truncated');
    expect((await failure('[DONE]')).code).toBe('upstream_stream_empty');
    expect((await failure(...HELLO.slice(0, 4), '[DONE]')).code).toBe('upstream_stream_truncated');
  });
});

describe('hand-made streams the recordings lack, with the SDK as oracle', () => {
  async function againstSdk(events: JsonEvent[], beta = false): Promise<AnthropicMessage> {
    const sse = sseOf(...events);
    const ours = JSON.parse((await foldSse(messagesApi, bodyOf(sse))).body) as AnthropicMessage;
    const client = sdkClient(sse);
    const stream = beta ? client.beta.messages.stream(PARAMS) : client.messages.stream(PARAMS);
    const { parsed_output: _parsed, ...sdk } = JSON.parse(JSON.stringify(await stream.finalMessage()));
    expect(ours).toEqual(sdk);
    return ours;
  }

  it('a stop sequence', async () => {
    const message = await againstSdk([...HELLO, messageDelta('stop_sequence', '###'), messageStop]);
    expect([message.stop_reason, message.stop_sequence]).toEqual(['stop_sequence', '###']);
    expect(message.usage).toEqual({ input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 4 });
  });

  it('a document citation on a text block that started without citations', async () => {
    const citation = {
      type: 'char_location',
      cited_text: 'Hello',
      document_index: 0,
      document_title: 'Doc',
      start_char_index: 0,
      end_char_index: 5,
    };
    const message = await againstSdk([
      ...HELLO.slice(0, 5),
      { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation } },
      stop(),
      messageDelta('end_turn'),
      messageStop,
    ]);
    expect(message.content).toEqual([{ type: 'text', text: 'Hello', citations: [citation] }]);
  });

  it('a fallback block renames the model to the one that served the answer', async () => {
    const fallback = {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'fallback', from: { model: 'claude-test' }, to: { model: 'claude-other' } },
    };
    const events = [start, fallback, stop(0), { ...textStart, index: 1 }, text('Hi', 1), stop(1)];
    const message = await againstSdk([...events, messageDelta('end_turn'), messageStop], true);
    expect(message.model).toBe('claude-other');
  });

  it('thinking then text, with a final empty thinking_delta and the signature', async () => {
    const thinking = {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    };
    const delta = (value: Record<string, unknown>) => ({
      type: 'content_block_delta',
      index: 0,
      delta: value,
    });
    const message = await againstSdk([
      start,
      thinking,
      delta({ type: 'thinking_delta', thinking: 'Let me ' }),
      delta({ type: 'thinking_delta', thinking: 'think.' }),
      delta({ type: 'thinking_delta', thinking: '' }),
      delta({ type: 'signature_delta', signature: 'sig==' }),
      stop(0),
      { ...textStart, index: 1 },
      text('Done.', 1),
      stop(1),
      messageDelta('end_turn'),
      messageStop,
    ]);
    expect(message.content[0]).toEqual({ type: 'thinking', thinking: 'Let me think.', signature: 'sig==' });
  });
});

describe('events that do not count', () => {
  it('pings, unknown event types and everything after message_stop are ignored', async () => {
    const answer = await foldSse(
      messagesApi,
      bodyOf(
        sseOf(
          ...HELLO,
          { type: 'something_new', index: 0 },
          messageDelta('end_turn'),
          messageStop,
          OVERLOADED,
        ),
      ),
    );
    const message = JSON.parse(answer.body) as AnthropicMessage;
    expect(message.content).toEqual([{ type: 'text', text: 'Hello' }]);
    expect(answer.chunks).toBe(HELLO.length + 3);
    expect(answer.usage).toEqual({ prompt_tokens: 15, completion_tokens: 4 });
  });
});

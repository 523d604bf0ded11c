import { describe, expect, it } from 'vitest';
import { decodeAnswer, encodeAnswer, type QueuedAnswer } from '../src/queue/job-protocol.js';

// The answer message between worker and gateway: only encode/decode know its format.

const answer = (fields: Partial<QueuedAnswer>): QueuedAnswer => ({
  jobId: 'j',
  status: 200,
  queueWaitMs: 0,
  body: '{}',
  upstream: null,
  model: null,
  usage: null,
  errorCode: null,
  headers: {},
  ...fields,
});

describe('encodeAnswer / decodeAnswer', () => {
  it('round-trips status, queue wait, upstream, model, usage and a body with newlines', () => {
    const body = '{"id":"x",\n"choices":[]}\n';
    const message = encodeAnswer(
      answer({
        jobId: 'job-1',
        queueWaitMs: 12.6,
        body,
        upstream: 'api.example.com',
        model: 'gpt-x',
        usage: { prompt_tokens: 7, completion_tokens: 5 },
      }),
    );
    expect(decodeAnswer(message)).toEqual(
      answer({
        jobId: 'job-1',
        queueWaitMs: 13,
        body,
        upstream: 'api.example.com',
        model: 'gpt-x',
        usage: { prompt_tokens: 7, completion_tokens: 5 },
      }),
    );
  });

  it('reads absent metadata as null, and keeps the proxy error code of an error answer', () => {
    const sent = answer({ status: 504, errorCode: 'deadline_exceeded' });
    expect(decodeAnswer(encodeAnswer(sent))).toEqual(sent);
  });

  it('keeps a model name with a newline, a backslash or quotes on one header line', () => {
    for (const model of ['odd\n"model"', 'back\\slash\\n', 'cr\r\n\\']) {
      const message = encodeAnswer(answer({ model, body: 'b' }));
      expect(message.split('\n')).toHaveLength(9);
      expect(decodeAnswer(message)?.model).toBe(model);
    }
  });

  it('carries the upstream headers the client should see, values escaped like names', () => {
    const headers = { 'retry-after': '7', 'x-ratelimit-remaining-requests': '0', 'x-odd': 'a\nb\\c' };
    const sent = answer({ status: 429, headers, body: '{"error":{}}' });
    const message = encodeAnswer(sent);
    expect(message.split('\n')).toHaveLength(12);
    expect(decodeAnswer(message)).toEqual(sent);
  });

  it('refuses malformed messages instead of guessing', () => {
    expect(decodeAnswer('j\n200\n5\n\n\n\n\n')).toBeUndefined(); // no header count
    expect(decodeAnswer('j\nOK\n5\n\n\n\n\n0\n{}')).toBeUndefined();
    expect(decodeAnswer('j\n200\n5\n\n\n-1 2\n\n0\n{}')).toBeUndefined();
    expect(decodeAnswer('j\n200\n5\n\n\n12\n\n0\n{}')).toBeUndefined();
    expect(decodeAnswer('j\n200\n5\n\n\n\nno_such_code\n0\n{}')).toBeUndefined();
    expect(decodeAnswer('\n200\n5\n\n\n\n\n0\n{}')).toBeUndefined();
    expect(decodeAnswer('j\n200\n5\n\n\n\n\n2\nretry-after: 1\n{}')).toBeUndefined(); // one header short
    expect(decodeAnswer('j\n200\n5\n\n\n\n\n1\nno colon\n{}')).toBeUndefined();
    // The previous format (a JSON meta line) is not mistaken for an answer.
    expect(decodeAnswer('j\n200\n5\n{"upstream":"a"}\n{"id":"x"}')).toBeUndefined();
  });
});

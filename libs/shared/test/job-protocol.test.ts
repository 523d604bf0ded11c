import { describe, expect, it } from 'vitest';
import { decodeResult, encodeResult } from '../src/queue/job-protocol.js';

// The result message between worker and gateway: only encode/decode know its format.

describe('encodeResult / decodeResult', () => {
  it('round-trips status, queue wait, upstream, model, usage and a body with newlines', () => {
    const body = '{"id":"x",\n"choices":[]}\n';
    const message = encodeResult({
      jobId: 'job-1',
      status: 200,
      queueWaitMs: 12.6,
      body,
      upstream: 'api.example.com',
      model: 'gpt-x',
      usage: { prompt_tokens: 7, completion_tokens: 5 },
    });
    expect(decodeResult(message)).toEqual({
      jobId: 'job-1',
      status: 200,
      queueWaitMs: 13,
      body,
      upstream: 'api.example.com',
      model: 'gpt-x',
      usage: { prompt_tokens: 7, completion_tokens: 5 },
    });
  });

  it('reads the metadata as absent when the worker had none (an error answer)', () => {
    const decoded = decodeResult(encodeResult({ jobId: 'j', status: 504, queueWaitMs: 0, body: '{}' }));
    expect(decoded).toEqual({
      jobId: 'j',
      status: 504,
      queueWaitMs: 0,
      body: '{}',
      upstream: null,
      model: null,
      usage: null,
    });
  });

  it('keeps a model name with a newline or quotes on one header line', () => {
    const model = 'odd\n"model"';
    expect(
      decodeResult(encodeResult({ jobId: 'j', status: 200, queueWaitMs: 1, body: 'b', model }))?.model,
    ).toBe(model);
  });

  it('refuses malformed messages instead of guessing', () => {
    expect(decodeResult('j\n200\n5\n')).toBeUndefined(); // no body separator after the meta line
    expect(decodeResult('j\n200\n5\nnot json\n{}')).toBeUndefined();
    expect(
      decodeResult('j\n200\n5\n{"usage":{"prompt_tokens":-1,"completion_tokens":2}}\n{}'),
    ).toBeUndefined();
    expect(decodeResult('j\n200\n5\n{"model":3}\n{}')).toBeUndefined();
    expect(decodeResult('j\nOK\n5\n{}\n{}')).toBeUndefined();
    // The three-line header of the previous format is not mistaken for a result.
    expect(decodeResult('j\n200\n5\n{"id":"x"}')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { type ChatCompletion, chatCompletionsApi, isProxyError, type ProxyError } from '../src/index.js';
import { foldSse, type SseBody } from './fold-through-sink.js';

/** A body arriving in these pieces, one write each. */
const bodyOf = (...parts: string[]): string[] => parts;

function sse(...events: unknown[]): string {
  return events
    .map((event) => `data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`)
    .join('');
}

function chunk(
  delta: Record<string, unknown>,
  finishReason: string | null = null,
  index = 0,
): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-test',
    choices: [{ index, delta, logprobs: null, finish_reason: finishReason }],
  };
}

const ROLE = chunk({ role: 'assistant', content: '' });
const HELLO = chunk({ content: 'Hello' });
const STOP = chunk({}, 'stop');

async function failure(body: SseBody): Promise<ProxyError> {
  const error = await foldSse(chatCompletionsApi, body).then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!isProxyError(error)) throw new Error(`expected a ProxyError, got ${String(error)}`);
  return error;
}

describe('an error event mid-stream', () => {
  it("is the status OpenAI gives the failure (server_error: 500), carrying the upstream's message", async () => {
    const error = await failure(
      bodyOf(
        sse(ROLE, HELLO, { error: { message: 'The server had an error', type: 'server_error', code: 500 } }),
      ),
    );
    expect(error.code).toBe('upstream_stream_error');
    expect(error.status).toBe(500);
    expect(error.message).toContain('The server had an error');
    expect(error.toBody().error).toMatchObject({ type: 'server_error', code: 'server_error' });
  });

  it('of a kind OpenAI does not name is a 502 upstream_stream_error', async () => {
    const error = await failure(bodyOf(sse(ROLE, HELLO, { error: { message: 'hm', type: 'brand_new' } })));
    expect([error.status, error.type, error.toBody().error.code]).toEqual([
      502,
      'upstream_error',
      'upstream_stream_error',
    ]);
    expect(error.message).toContain('[brand_new]');
  });

  it('wins over [DONE] that follows it, and accepts a bare string or an `event: error` frame', async () => {
    const asString = await failure(bodyOf(sse(ROLE, { error: 'overloaded' }, '[DONE]')));
    expect(asString.code).toBe('upstream_stream_error');
    expect(asString.message).toContain('overloaded');

    const framed = await failure(
      bodyOf(sse(ROLE), 'event: error\ndata: {"error":{"message":"rate limited"}}\n\n'),
    );
    expect(framed.code).toBe('upstream_stream_error');
    expect(framed.message).toContain('rate limited');
  });

  it('ignores `error: null`, which some providers put on every chunk', async () => {
    const answer = await foldSse(
      chatCompletionsApi,
      bodyOf(sse({ ...ROLE, error: null }, HELLO, STOP, '[DONE]')),
    );
    const completion = JSON.parse(answer.body) as ChatCompletion;
    expect(completion.choices[0]?.message.content).toBe('Hello');
    expect('error' in completion).toBe(false);
  });
});

describe('a malformed chunk', () => {
  it.each([
    ['not JSON', '{"id": "chatcmpl-1", "choices": ['],
    ['a JSON array', '[1, 2]'],
    ['a JSON string', '"hello"'],
    ['JSON null', 'null'],
    ['a number', '42'],
  ])('%s is a 502 upstream_malformed_chunk', async (_label, data) => {
    const error = await failure(bodyOf(sse(ROLE, data, STOP, '[DONE]')));
    expect(error.code).toBe('upstream_malformed_chunk');
    expect(error.status).toBe(502);
  });

  it('quotes only the start of a huge broken chunk', async () => {
    const error = await failure(bodyOf(sse(ROLE, `{"content": "${'x'.repeat(100_000)}`)));
    expect(error.code).toBe('upstream_malformed_chunk');
    expect(error.message.length).toBeLessThan(500);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('is not reported for data after [DONE], which is never read', async () => {
    const answer = await foldSse(chatCompletionsApi, bodyOf(sse(ROLE, HELLO, STOP, '[DONE]', 'garbage')));
    expect(answer.chunks).toBe(3);
  });

  it('does not include empty data lines, which are skipped', async () => {
    const answer = await foldSse(
      chatCompletionsApi,
      bodyOf(sse(ROLE), 'data:\n\n', sse(HELLO, STOP, '[DONE]')),
    );
    expect(answer.chunks).toBe(3);
  });
});

describe('a stream that ends without [DONE]', () => {
  it('while a choice is unfinished is a 502 upstream_stream_truncated', async () => {
    const error = await failure(bodyOf(sse(ROLE, HELLO)));
    expect(error.code).toBe('upstream_stream_truncated');
    expect(error.status).toBe(502);
    expect(error.message).toContain('2 chunks');
  });

  it('while one of several choices is unfinished is truncated too', async () => {
    const error = await failure(
      bodyOf(sse(chunk({ content: 'a' }, 'stop', 0), chunk({ content: 'b' }, null, 1))),
    );
    expect(error.code).toBe('upstream_stream_truncated');
  });

  it('before any choice (an empty body, or only a usage chunk) is truncated', async () => {
    expect((await failure(bodyOf())).code).toBe('upstream_stream_truncated');
    expect((await failure(bodyOf(': ping\n\n'))).code).toBe('upstream_stream_truncated');
    const usageOnly = {
      id: 'x',
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 },
    };
    expect((await failure(bodyOf(sse(usageOnly)))).code).toBe('upstream_stream_truncated');
  });

  it('is accepted when every choice has finished (some providers never send [DONE])', async () => {
    const answer = await foldSse(chatCompletionsApi, bodyOf(sse(ROLE, HELLO, STOP)));
    const completion = JSON.parse(answer.body) as ChatCompletion;
    expect(completion.choices[0]?.message.content).toBe('Hello');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
  });

  it('is accepted when the last event lacks its closing blank line but finishes the answer', async () => {
    const answer = await foldSse(
      chatCompletionsApi,
      bodyOf(sse(ROLE, HELLO), `data: ${JSON.stringify(STOP)}`),
    );
    expect(JSON.parse(answer.body)).toMatchObject({ choices: [{ finish_reason: 'stop' }] });
  });
});

describe('a stream with [DONE]', () => {
  it('is accepted without any finish_reason: the upstream said it was done', async () => {
    const answer = await foldSse(chatCompletionsApi, bodyOf(sse(ROLE, HELLO, '[DONE]')));
    const completion = JSON.parse(answer.body) as ChatCompletion;
    expect(completion.choices[0]?.message.content).toBe('Hello');
    expect(completion.choices[0]?.finish_reason).toBeNull();
  });

  // Decision: [DONE] with no choice at all is not an answer. A 200 with `choices: []` would break
  // every client that reads choices[0]; a 502 with its own code says what happened.
  it('but no choice at all is a 502 upstream_stream_empty', async () => {
    const onlyDone = await failure(bodyOf(sse('[DONE]')));
    expect(onlyDone.code).toBe('upstream_stream_empty');
    expect(onlyDone.status).toBe(502);
    const usageOnly = {
      id: 'x',
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 },
    };
    expect((await failure(bodyOf(sse(usageOnly, '[DONE]')))).code).toBe('upstream_stream_empty');
  });
});

// A body that breaks, stalls or never ends is the connection's doing: what the whole call makes of
// it (completeFromStream against the mock upstream) is in tests/integration/fold-broken-bodies.test.ts.
describe('after [DONE]', () => {
  it('nothing counts: later data is ignored and the body is read to its end', async () => {
    let reads = 0;
    function* body(): Generator<string> {
      reads += 1;
      yield sse(ROLE, HELLO, STOP, '[DONE]');
      reads += 1;
      yield sse(HELLO);
    }
    const answer = await foldSse(chatCompletionsApi, body());
    expect(answer.chunks).toBe(3);
    expect(JSON.parse(answer.body).choices[0].message.content).toBe('Hello');
    // The body was read to its end (so undici can release the connection without an abort).
    expect(reads).toBe(2);
  });
});

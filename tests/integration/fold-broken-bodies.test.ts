import { readFileSync } from 'node:fs';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { chatCompletionsApi, messagesApi, responsesApi } from '@openai-proxy/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody } from './support/http.js';
import { type FoldAnswer, type InProcessFold, inProcessFold } from './support/in-process-fold.js';

// What a non-stream call (completeFromStream, as a worker or a standalone gateway runs it) makes of
// an upstream body that breaks, stalls or never ends: the connection's doing, so each case is a
// whole call against the mock upstream. How the fold reads the events themselves, whatever the
// pieces they come in, is tested in libs/shared/test (fold-errors, folding-sink, sse-reader).

const CHUNK = {
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'gpt-test',
};
const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
  ...CHUNK,
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
});
const sse = (...events: unknown[]): string =>
  events.map((event) => `data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`).join('');

const ROLE = chunk({ role: 'assistant', content: '' });
const HELLO = chunk({ content: 'Hello' });
const STOP = chunk({}, 'stop');
/** A whole chat answer: three chunks, then `[DONE]`. */
const WHOLE = sse(ROLE, HELLO, STOP, '[DONE]');

/** A recorded Responses stream, ending with `response.completed`. */
const RESPONSES_SSE = readFileSync(
  new URL('../../libs/shared/test/fixtures/responses-streams/01-text-hello-obfuscation.sse', import.meta.url),
  'utf8',
);
const RESPONSES_REQUEST = { model: 'mock-model', input: 'hello' };
const MESSAGES_REQUEST = { model: 'mock-model', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };

/**
 * `head` in one write, then a tail of comments in writes of the same size, `gapMs` apart: a body
 * that goes on long after its last event.
 */
const lingering = (head: string, gapMs: number) => ({
  kind: 'replay' as const,
  sse: head + ': still here\n\n'.repeat(Math.ceil((Buffer.byteLength(head) * 3) / 14)),
  sliceBytes: Buffer.byteLength(head),
  chunkDelayMs: gapMs,
});

const contentOf = (answer: FoldAnswer): unknown =>
  (JSON.parse(answer.body) as { choices: { message: { content: unknown } }[] }).choices[0]?.message.content;

let upstream: MockUpstream;
/** Idle timeout 300 ms: a body that goes quiet fails fast. */
let quick: InProcessFold;
/** Idle timeout 60 s: only the fold itself can end a body that goes quiet. */
let patient: InProcessFold;

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'broken-bodies' });
  quick = inProcessFold(upstream, { idleMs: 300 });
  patient = inProcessFold(upstream, { idleMs: 60_000 });
});

afterAll(async () => {
  await Promise.all([quick?.close(), patient?.close()]);
  await upstream?.close();
});

/**
 * Runs `call` and returns its answer with what the mock upstream saw meanwhile. With
 * `untilAborted`, first waits (up to 5 s) for the upstream to see its connection dropped: the
 * answer may be back before the mock server has read the close.
 */
async function counted(call: () => Promise<FoldAnswer>, untilAborted = false) {
  const before = { ...upstream.stats };
  const answer = await call();
  if (untilAborted) await upstream.waitForAborted(before.aborted + 1, 5_000);
  const { requests, aborted, completed } = upstream.stats;
  return {
    answer,
    requests: requests - before.requests,
    aborted: aborted - before.aborted,
    completed: completed - before.completed,
  };
}

describe('a body that breaks before the answer is whole', () => {
  it('after some chunks is a 502, never a shortened 200, in the API’s dialect', async () => {
    upstream.enqueue({ kind: 'drop', afterChunks: 2 });
    const chat = await counted(() => quick.complete(chatCompletionsApi, chatBody('cut')));
    expect(chat.answer.status).toBe(502);
    expect(JSON.parse(chat.answer.body).error.code).toBe('upstream_unavailable');
    expect(chat.requests).toBe(1);

    upstream.enqueue({ kind: 'drop', afterChunks: 3 });
    const messages = await counted(() => quick.complete(messagesApi, MESSAGES_REQUEST));
    expect(messages.answer.status).toBe(502);
    expect(JSON.parse(messages.answer.body)).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(messages.requests).toBe(1);
  });

  it('by going quiet before its first event is a 504 idle_timeout', async () => {
    upstream.enqueue({ kind: 'hang', afterHeaders: true });
    const { answer, requests, aborted } = await counted(
      () => quick.complete(chatCompletionsApi, chatBody('x')),
      true,
    );
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body).error.code).toBe('idle_timeout');
    expect([requests, aborted]).toEqual([1, 1]);
  });
});

describe('after the last event', () => {
  it('later data is ignored and the body is read to its end', async () => {
    upstream.enqueue({ kind: 'replay', sse: WHOLE + sse(HELLO, 'garbage'), sliceBytes: WHOLE.length });
    const { answer, requests, aborted, completed } = await counted(() =>
      quick.complete(chatCompletionsApi, chatBody('x')),
    );
    expect(answer.status).toBe(200);
    expect(answer.chunks).toBe(3);
    expect(contentOf(answer)).toBe('Hello');
    // Read to its end, so undici can keep the connection rather than abort the response.
    expect([requests, aborted, completed]).toEqual([1, 0, 1]);
  });

  it('a broken tail (here the upstream going quiet past the idle timeout) is no error', async () => {
    upstream.enqueue(lingering(WHOLE, 10_000));
    const chat = await counted(() => quick.complete(chatCompletionsApi, chatBody('x')), true);
    expect(chat.answer.status).toBe(200);
    expect(chat.answer.chunks).toBe(3);
    expect(contentOf(chat.answer)).toBe('Hello');
    expect([chat.requests, chat.aborted]).toEqual([1, 1]);

    upstream.enqueue({ kind: 'replay', sse: RESPONSES_SSE });
    const whole = await quick.complete(responsesApi, RESPONSES_REQUEST);
    upstream.enqueue(lingering(RESPONSES_SSE, 10_000));
    const responses = await counted(() => quick.complete(responsesApi, RESPONSES_REQUEST), true);
    expect(responses.answer.status).toBe(200);
    expect(responses.answer.body).toBe(whole.body);
    expect(responses.answer.chunks).toBe(whole.chunks);
    expect([responses.requests, responses.aborted]).toEqual([1, 1]);
  });

  it('a body that never ends does not hold the answer back: the fold cuts it off', async () => {
    // Without the cut this call would wait a minute for the next write, past the test's timeout.
    upstream.enqueue(lingering(WHOLE, 60_000));
    const { answer, requests, aborted } = await counted(
      () => patient.complete(chatCompletionsApi, chatBody('x')),
      true,
    );
    expect(answer.status).toBe(200);
    expect(answer.chunks).toBe(3);
    expect(contentOf(answer)).toBe('Hello');
    expect([requests, aborted]).toEqual([1, 1]);
  });
});

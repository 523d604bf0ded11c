import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { queueNames, responsesApi } from '@openai-proxy/shared';
import { type AppProcess, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import OpenAI from 'openai';
import type { Response as OpenAIResponse, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson } from './support/http.js';
import { type InProcessFold, inProcessFold } from './support/in-process-fold.js';

// OpenAI's background mode on any upstream, with the official SDK as the client, against real
// gateway, worker and Redis processes: every recorded Responses stream ends as the same object a
// non-stream call gets; events resume after any sequence number; cancel stops the upstream call;
// responses belong to their key and expire.

const KEY = 'sk-background-owner';
const PREFIX = `{background-${process.pid}}`;
const OTHER_KEY = 'sk-background-other';
const REQUEST = { model: 'mock-model', input: 'replay' };
const FINAL = new Set(['completed', 'incomplete', 'failed', 'cancelled']);

const FIXTURES = fileURLToPath(
  new URL('../../libs/shared/test/fixtures/responses-streams/', import.meta.url),
);
const fixtures = readdirSync(FIXTURES)
  .filter((file) => file.endsWith('.sse'))
  .sort()
  .map((file) => ({ name: file, sse: readFileSync(FIXTURES + file, 'utf8') }));

let redis: TestRedis;
let upstream: MockUpstream;
let gateway: AppProcess;
let keyless: AppProcess;
let worker: AppProcess;
let standalone: AppProcess;
let inProcess: InProcessFold;
let client: OpenAI;

async function healthy(app: AppProcess): Promise<void> {
  await eventually(
    () =>
      fetch(`${app.url}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    15_000,
  );
}

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'background' })]);
  inProcess = inProcessFold(upstream);
  const env = {
    UPSTREAM_API_URL: upstream.chatUrl,
    QUEUE_PREFIX: PREFIX,
    UPSTREAM_STREAM_RETRIES: '0',
    LOG_LEVEL: 'warn',
  };
  [gateway, keyless, worker, standalone] = await Promise.all([
    startApp(
      'gateway',
      { ...env, REDIS_URL: redis.url, GATEWAY_API_KEYS: `${KEY},${OTHER_KEY}` },
      { waitFor: null },
    ),
    startApp('gateway', { ...env, REDIS_URL: redis.url }, { waitFor: null }),
    startApp('worker', { ...env, REDIS_URL: redis.url, WORKER_PROCESSES: '1' }, { waitFor: null }),
    startApp('gateway', env, { waitFor: null }),
  ]);
  await Promise.all([gateway, keyless, worker, standalone].map(healthy));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 30_000);

afterAll(async () => {
  await Promise.all([
    gateway?.stop(),
    keyless?.stop(),
    worker?.stop(),
    standalone?.stop(),
    inProcess?.close(),
  ]);
  await Promise.all([upstream?.close(), redis?.stop()]);
});

async function settled(id: string, sdk = client): Promise<OpenAIResponse> {
  for (;;) {
    const response = await sdk.responses.retrieve(id);
    if (FINAL.has(response.status ?? '')) return response;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The response as the gateway sends it, without what the SDK adds (`output_text`). */
async function rawRetrieve(id: string): Promise<Record<string, unknown>> {
  return (await client.responses.retrieve(id).asResponse()).json() as Promise<Record<string, unknown>>;
}

async function eventsAfter(id: string, after?: number): Promise<ResponseStreamEvent[]> {
  const stream = await client.responses.retrieve(id, {
    stream: true,
    ...(after === undefined ? {} : { starting_after: after }),
  });
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** A fold's made-up id (a stream without `response.created`) comes with a made-up `created_at`. */
const MADE_UP_ID = /^resp_[0-9a-f]{32}$/;

describe.each(fixtures)('recorded stream $name', ({ sse }) => {
  it('background, then retrieve until done: the same final object as the non-stream call', async () => {
    upstream.enqueue({ kind: 'replay', sse });
    const expected = await inProcess.complete(responsesApi, REQUEST);
    upstream.enqueue({ kind: 'replay', sse, sliceBytes: 'random', seed: 7 });
    const created = await client.responses.create({ ...REQUEST, background: true });
    expect(created.status).toBe('queued');
    expect(created.background).toBe(true);
    expect(created.id).toMatch(/^resp_bg_[0-9a-f]{32}$/);
    const done = await settled(created.id);
    const raw = await rawRetrieve(created.id);
    if (expected.status === 200) {
      const plain = JSON.parse(expected.body) as Record<string, unknown>;
      const madeUp = typeof plain.id === 'string' && MADE_UP_ID.test(plain.id);
      const comparable = (object: Record<string, unknown>) => ({
        ...object,
        id: created.id,
        background: true,
        ...(madeUp ? { created_at: 0 } : {}),
      });
      expect(comparable(raw)).toEqual(comparable(plain));
      expect(['completed', 'incomplete']).toContain(done.status);
    } else {
      const error = (JSON.parse(expected.body) as { error: { code: string | null; type: string } }).error;
      expect(done.status).toBe('failed');
      expect(done.error?.code).toBe(error.code ?? error.type);
    }
  });
});

describe('events', () => {
  it('retrieve with stream: true and starting_after N yields exactly the events after N, also while it runs', async () => {
    upstream.enqueue({ kind: 'echo', chunkDelayMs: 60, words: 30 });
    const created = await client.responses.create({
      model: 'mock-model',
      input: 'count along',
      background: true,
    });
    // While it runs: resumed after a few events, read to the end.
    await eventually(async () => (await rawRetrieve(created.id)).status === 'in_progress', 5_000, 20);
    const whileRunning = eventsAfter(created.id, 2);
    const early = await eventsAfter(created.id, 0);
    const all = await eventsAfter(created.id);
    expect((await rawRetrieve(created.id)).status).toBe('completed');
    // Numbered 0, 1, 2, … with no gap; the first says queued, the last completed.
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_event, index) => index));
    expect(all[0]?.type).toBe('response.queued');
    expect(all.at(-1)?.type).toBe('response.completed');
    expect(all.length).toBeGreaterThan(20);
    expect(await whileRunning).toEqual(all.slice(3));
    expect(early).toEqual(all.slice(1));
    for (const after of [5, 17, all.length - 2, all.length - 1])
      expect(await eventsAfter(created.id, after)).toEqual(all.slice(after + 1));
    // The deltas make the final text; every `response` in an event carries our id.
    const text = all
      .flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : []))
      .join('');
    const final = await settled(created.id);
    expect(text).toBe(final.output_text);
    for (const event of all) if ('response' in event) expect(event.response.id).toBe(created.id);
  });

  it('POST with background and stream: true streams the events from the start', async () => {
    upstream.enqueue({ kind: 'echo', words: 5 });
    const stream = await client.responses.create({
      model: 'mock-model',
      input: 'stream it',
      background: true,
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events[0]?.type).toBe('response.queued');
    const last = events.at(-1);
    expect(last?.type).toBe('response.completed');
    const id = last?.type === 'response.completed' ? last.response.id : '';
    expect(await eventsAfter(id)).toEqual(events);
  });

  it('while in progress, retrieve gives the output so far', async () => {
    upstream.enqueue({ kind: 'echo', chunkDelayMs: 100, words: 40 });
    const created = await client.responses.create({ model: 'mock-model', input: 'slowly', background: true });
    let partial = '';
    await eventually(
      async () => {
        const now = await client.responses.retrieve(created.id);
        partial = now.status === 'in_progress' ? now.output_text : '';
        return partial.length > 0;
      },
      10_000,
      50,
    );
    const final = await settled(created.id);
    expect(final.output_text.startsWith(partial)).toBe(true);
    expect(final.output_text.length).toBeGreaterThan(partial.length);
  });
});

describe('cancel and delete', () => {
  it('cancel stops a slow generation: cancelled, and the upstream saw its connection closed', async () => {
    const abortedBefore = upstream.stats.aborted;
    upstream.enqueue({ kind: 'echo', chunkDelayMs: 200, words: 200 });
    const created = await client.responses.create({
      model: 'mock-model',
      input: 'a long one',
      background: true,
    });
    await eventually(
      async () => (await client.responses.retrieve(created.id)).output_text.length > 0,
      10_000,
      50,
    );
    const cancelledAt = Date.now();
    const cancelled = await client.responses.cancel(created.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.id).toBe(created.id);
    await upstream.waitForAborted(abortedBefore + 1, 5_000);
    // By the broadcast, not by the end of its 40 s generation.
    expect(Date.now() - cancelledAt).toBeLessThan(3_000);
    // It stays cancelled: the worker's end does not overwrite it, and a second cancel changes nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await client.responses.retrieve(created.id)).status).toBe('cancelled');
    expect((await client.responses.cancel(created.id)).status).toBe('cancelled');
    // Its stream ends (no final event for a cancelled response).
    const events = await eventsAfter(created.id);
    expect(events.some((event) => event.type === 'response.completed')).toBe(false);
  });

  it('cancelling a completed response returns it unchanged', async () => {
    upstream.enqueue({ kind: 'echo', words: 3 });
    const created = await client.responses.create({ model: 'mock-model', input: 'quick', background: true });
    const done = await settled(created.id);
    const before = await rawRetrieve(created.id);
    const after = await client.responses.cancel(created.id);
    expect(done.status).toBe('completed');
    expect(after.status).toBe('completed');
    expect(await rawRetrieve(created.id)).toEqual(before);
  });

  it('delete removes it: 404 afterwards', async () => {
    upstream.enqueue({ kind: 'echo', words: 3 });
    const created = await client.responses.create({
      model: 'mock-model',
      input: 'to delete',
      background: true,
    });
    await settled(created.id);
    const deleted = await fetch(`${gateway.url}/v1/responses/${created.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: created.id, object: 'response', deleted: true });
    await expect(client.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('ownership, unknown ids, expiry, standalone', () => {
  it('another key gets 404 (as if it did not exist); without gateway keys anyone with the id sees it', async () => {
    upstream.enqueue({ kind: 'echo', words: 3 }, { kind: 'echo', words: 3 });
    const created = await client.responses.create({ model: 'mock-model', input: 'mine', background: true });
    await settled(created.id);
    const other = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: OTHER_KEY, maxRetries: 0 });
    await expect(other.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(other.responses.cancel(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(other.responses.delete(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await client.responses.retrieve(created.id)).status).toBe('completed');

    const open = new OpenAI({ baseURL: `${keyless.url}/v1`, apiKey: 'anything', maxRetries: 0 });
    const shared = await open.responses.create({ model: 'mock-model', input: 'shared', background: true });
    const anyone = new OpenAI({ baseURL: `${keyless.url}/v1`, apiKey: 'someone-else', maxRetries: 0 });
    expect((await settled(shared.id, anyone)).status).toBe('completed');
  });

  it('an unknown id is a 404 in OpenAI shape', async () => {
    const unknown = `resp_bg_${'0'.repeat(32)}`;
    const answer = await fetch(`${gateway.url}/v1/responses/${unknown}`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(answer.status).toBe(404);
    const body = (await answer.json()) as { error: { type: string; message: string; code: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain(unknown);
  });

  it('a standalone gateway refuses background: true with a 400 that says it needs queue mode', async () => {
    const callsBefore = upstream.stats.requests;
    const answer = await postJson(`${standalone.url}/v1/responses`, { ...REQUEST, background: true });
    expect(answer.status).toBe(400);
    expect(answer.json.error?.param).toBe('background');
    expect(answer.json.error?.message).toContain('queue mode');
    expect(upstream.stats.requests).toBe(callsBefore);
  });

  it('responses expire after BACKGROUND_TTL_SECONDS', async () => {
    const env = {
      UPSTREAM_API_URL: upstream.chatUrl,
      QUEUE_PREFIX: `{background-ttl-${process.pid}}`,
      REDIS_URL: redis.url,
      BACKGROUND_TTL_SECONDS: '2',
      LOG_LEVEL: 'warn',
    };
    const [shortGateway, shortWorker] = await Promise.all([
      startApp('gateway', env, { waitFor: null }),
      startApp('worker', { ...env, WORKER_PROCESSES: '1' }, { waitFor: null }),
    ]);
    try {
      await Promise.all([healthy(shortGateway), healthy(shortWorker)]);
      const short = new OpenAI({ baseURL: `${shortGateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
      upstream.enqueue({ kind: 'echo', words: 3 });
      const created = await short.responses.create({ model: 'mock-model', input: 'brief', background: true });
      expect((await settled(created.id, short)).status).toBe('completed');
      await eventually(
        () =>
          short.responses.retrieve(created.id).then(
            () => false,
            (error) => error instanceof OpenAI.NotFoundError,
          ),
        6_000,
        250,
      );
    } finally {
      await Promise.all([shortGateway.stop(), shortWorker.stop()]);
    }
  });
});

describe('a lost job', () => {
  it('a response whose job vanished from Redis fails job_lost, for a poll and for a stream that follows it', async () => {
    const names = queueNames(PREFIX);
    const queue = new Queue(names.queue, { connection: { url: redis.url }, prefix: names.prefix });
    // Paused, no worker takes the job: it waits, and is then removed behind the proxy's back.
    await queue.pause();
    try {
      const created = await client.responses.create({ model: 'mock-model', input: 'lost', background: true });
      const following = eventsAfter(created.id);
      await eventually(async () => (await queue.getJob(created.id)) !== undefined, 5_000);
      await queue.remove(created.id);
      const followed = await following;
      expect(followed.at(-1)?.type).toBe('response.failed');
      const failed = await client.responses.retrieve(created.id);
      expect(failed.status).toBe('failed');
      expect(failed.error?.code).toBe('job_lost');
    } finally {
      await queue.resume();
      await queue.close();
    }
  });
});

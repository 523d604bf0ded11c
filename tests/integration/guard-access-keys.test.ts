import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 5: with GATEWAY_API_KEYS the proxy is closed to clients without one of them and calls
// upstreams with its own UPSTREAM_API_KEY; a client's key reaches no upstream, no job in Redis
// and no log line, even at LOG_LEVEL=trace. The gateways run in the test's process (their log
// lines kept as they would be printed), the worker farm as a process.

const GATEWAY_KEYS = ['gk-alpha-5d1b7e29c4', 'gk-beta-0a8f63e1d7'] as const;
const SERVER_KEY = 'up-server-key-44c9a1';
const WRONG_KEY = 'gk-wrong-9b2f0c71e5';
/** A client key offered to a gateway that has UPSTREAM_API_KEY but no GATEWAY_API_KEYS. */
const UNNEEDED_KEY = 'sk-client-unneeded-6e0d';
const CLIENT_KEYS = [...GATEWAY_KEYS, WRONG_KEY, UNNEEDED_KEY];

let stack: Stack;
let upstream: MockUpstream;
let closedGateway: InProcessGateway;
let worker: AppProcess;
/** Queue mode with no worker behind it: the jobs they add stay in Redis to be read. */
let closedNoWorker: InProcessGateway;
let serverKeyNoWorker: InProcessGateway;
let redisClient: Redis;
let idleQueue: Queue;
let idleEvents: QueueEvents;
const prefix = `{test-${process.pid}-guard-keys}`;
const idlePrefix = `{test-${process.pid}-guard-keys-idle}`;

beforeAll(async () => {
  const closed = { GATEWAY_API_KEYS: GATEWAY_KEYS.join(',') };
  const started = await startStack({
    redis: true,
    upstreams: ['keyed'],
    env: { UPSTREAM_API_KEY: SERVER_KEY, LOG_LEVEL: 'trace' },
    gateways: {
      closed: { run: 'in-process', env: { ...closed, QUEUE_PREFIX: prefix } },
      closedNoWorker: { run: 'in-process', env: { ...closed, QUEUE_PREFIX: idlePrefix } },
      serverKeyNoWorker: { run: 'in-process', env: { QUEUE_PREFIX: idlePrefix } },
    },
    workers: {
      farm: { env: { QUEUE_PREFIX: prefix, WORKER_PROCESSES: '1', WORKER_CONCURRENCY: '4' } },
    },
  });
  stack = started;
  upstream = started.upstreams.keyed;
  ({ closed: closedGateway, closedNoWorker, serverKeyNoWorker } = started.gateways);
  worker = started.workers.farm;
  const redisUrl = started.redis.url;
  redisClient = new Redis(redisUrl, { maxRetriesPerRequest: null });
  idleQueue = new Queue('completions', { connection: redisClient, prefix: idlePrefix });
  idleEvents = new QueueEvents('completions', { connection: { url: redisUrl }, prefix: idlePrefix });
  await idleEvents.waitUntilReady();
});

afterAll(async () => {
  await Promise.all([idleQueue?.close(), idleEvents?.close()]);
  redisClient?.disconnect();
  await stack?.stop();
});

const chat = (gateway: InProcessGateway, headers: Record<string, string>, signal?: AbortSignal) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'who am i' }] }),
    ...(signal === undefined ? {} : { signal }),
  });

describe('GATEWAY_API_KEYS set', () => {
  it.each([
    ['no Authorization', {}, 'missing_api_key'],
    ['a wrong key', { authorization: `Bearer ${WRONG_KEY}` }, 'invalid_api_key'],
    ['a right key without "Bearer"', { authorization: GATEWAY_KEYS[0] }, 'missing_api_key'],
    ['a right key in another header', { 'x-api-key': GATEWAY_KEYS[0] }, 'missing_api_key'],
  ])('answers %s with 401 and calls no upstream', async (_case, headers, code) => {
    const before = upstream.stats.requests;
    const response = await chat(closedGateway, headers);
    expect(response.status).toBe(401);
    const text = await response.text();
    expect(JSON.parse(text).error).toMatchObject({ code, type: 'invalid_request_error', param: null });
    expect(text).not.toContain(WRONG_KEY);
    expect(upstream.stats.requests).toBe(before);
  });

  it('tells a client that sent its key without "Bearer " how to write the header', async () => {
    const bare = await chat(closedGateway, { authorization: GATEWAY_KEYS[0] });
    const text = await bare.text();
    expect(bare.status).toBe(401);
    expect(JSON.parse(text).error.message).toBe(
      "The Authorization header must be 'Authorization: Bearer <key>' (the word Bearer, a space, then the key).",
    );
    expect(text).not.toContain(GATEWAY_KEYS[0]);
    const messages = await fetch(`${closedGateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: GATEWAY_KEYS[0] },
      body: JSON.stringify({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(messages.status).toBe(401);
    expect(((await messages.json()) as { error: { message: string } }).error.message).toMatch(
      /^The Authorization header must be 'Authorization: Bearer <key>' .*, or send the key as 'x-api-key: <key>'\.$/,
    );
    const none = await chat(closedGateway, {});
    expect(((await none.json()) as { error: { message: string } }).error.message).toBe(
      "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
    );
  });

  it('guards pass-through endpoints too', async () => {
    const response = await fetch(`${closedGateway.url}/v1/models`);
    expect(response.status).toBe(401);
  });

  it.each(GATEWAY_KEYS)(
    'serves a client with key %s (official SDK), calling upstream with the server key',
    async (key) => {
      const client = new OpenAI({ apiKey: key, baseURL: `${closedGateway.url}/v1`, maxRetries: 0 });
      const completion = await client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: `hello ${key.slice(0, 5)}` }],
      });
      expect(completion.choices[0]?.message.content).toBe(`echo: hello ${key.slice(0, 5)}`);
      const stream = await client.chat.completions.create({
        model: 'm',
        stream: true,
        messages: [{ role: 'user', content: 'streamed' }],
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('echo: streamed');
      const models = await client.models.list();
      expect(models.data[0]?.id).toBe('mock-model');
      for (const record of upstream.requests.slice(-3))
        expect(record.headers.authorization).toBe(`Bearer ${SERVER_KEY}`);
    },
  );

  it('puts no client key in the job', async () => {
    const job = await waitingJobOf(closedNoWorker, { authorization: `Bearer ${GATEWAY_KEYS[1]}` });
    expect(job.data.request.credential).toBeUndefined();
    expect(JSON.stringify(job.data)).not.toContain(GATEWAY_KEYS[1]);
  });
});

describe('UPSTREAM_API_KEY set, GATEWAY_API_KEYS not', () => {
  it('leaves the client key it does not need out of the job', async () => {
    const job = await waitingJobOf(serverKeyNoWorker, { authorization: `Bearer ${UNNEEDED_KEY}` });
    expect(job.data.request.credential).toBeUndefined();
    expect(JSON.stringify(job.data)).not.toContain(UNNEEDED_KEY);
  });
});

describe('secrets hygiene', () => {
  it('no client key and no upstream key in any log line of any process', () => {
    const lines = [closedGateway, worker, closedNoWorker, serverKeyNoWorker].flatMap((app) => app.output);
    // Trace level logged something per request; the check would pass vacuously otherwise.
    expect(lines.filter((line) => line.includes('"msg":"request"')).length).toBeGreaterThan(10);
    for (const secret of [...CLIENT_KEYS, SERVER_KEY]) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });

  it('no client key anywhere in Redis', async () => {
    const keys = await redisClient.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    const dump = (await Promise.all(keys.map((key) => redisClient.dumpBuffer(key)))).map(
      (value) => value?.toString('latin1') ?? '',
    );
    for (const secret of CLIENT_KEYS) {
      expect(keys.filter((key) => key.includes(secret))).toEqual([]);
      expect(dump.filter((value) => value.includes(secret))).toEqual([]);
    }
  });

  it('no client key upstream, ever', () => {
    const seen = upstream.requests.map((record) => JSON.stringify(record));
    for (const secret of CLIENT_KEYS) expect(seen.filter((record) => record.includes(secret))).toEqual([]);
  });
});

/**
 * Sends a non-stream request to a gateway that has no worker, reads the job it added while it
 * waits in Redis, then lets the client go (the gateway withdraws the job).
 */
async function waitingJobOf(gateway: InProcessGateway, headers: Record<string, string>): Promise<Job> {
  const added = new Promise<string>((resolve) => idleEvents.once('waiting', ({ jobId }) => resolve(jobId)));
  const client = new AbortController();
  const answer = chat(gateway, headers, client.signal).catch(() => undefined);
  const job = await idleQueue.getJob(await added);
  client.abort();
  await answer;
  if (job === undefined) throw new Error('the job was not in Redis');
  return job;
}

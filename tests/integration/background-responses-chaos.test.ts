import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, startRedis, type TestRedis } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import type { Response as OpenAIResponse, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chaosEnv, inFlightAt, Processes } from './support/chaos/stack.js';
import { eventually } from './support/http.js';
import { readyWorkerPids } from './support/worker-pids.js';

// Background responses outlive the processes around them: a gateway SIGKILLed while 20 run, and
// a worker process SIGKILLed mid-generation. The mock upstream counts the generations: each
// response is generated once to completion, and a killed worker's ones once more.

const WORDS = 30;
const EXPECTED_TEXT = Array.from({ length: WORDS }, (_unused, index) =>
  index === 0 ? 'w1' : ` w${index + 1}`,
).join('');
const FINAL = new Set(['completed', 'incomplete', 'failed', 'cancelled']);

let redis: TestRedis;
let upstream: MockUpstream;
const processes = new Processes();

beforeAll(async () => {
  [redis, upstream] = await Promise.all([
    startRedis(),
    // About 3 s a generation: 30 words, 100 ms apart.
    startMockUpstream({ name: 'slow', defaultBehavior: { kind: 'echo', chunkDelayMs: 100, words: WORDS } }),
  ]);
});
afterAll(async () => {
  await processes.killAll();
  await Promise.all([upstream.close(), redis.stop()]);
});

const sdk = (gateway: AppProcess) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });

async function createMany(client: OpenAI, count: number): Promise<string[]> {
  const created = await Promise.all(
    Array.from({ length: count }, (_unused, index) =>
      client.responses.create({ model: 'mock-model', input: `background ${index}`, background: true }),
    ),
  );
  for (const response of created) expect(response.status).toBe('queued');
  return created.map((response) => response.id);
}

async function allSettled(client: OpenAI, ids: string[], timeoutMs: number): Promise<OpenAIResponse[]> {
  const finals = new Map<string, OpenAIResponse>();
  await eventually(
    async () => {
      for (const id of ids) {
        if (finals.has(id)) continue;
        const response = await client.responses.retrieve(id);
        if (FINAL.has(response.status ?? '')) finals.set(id, response);
      }
      return finals.size === ids.length;
    },
    timeoutMs,
    200,
  );
  return ids.map((id) => finals.get(id) as OpenAIResponse);
}

async function events(client: OpenAI, id: string): Promise<ResponseStreamEvent[]> {
  const list: ResponseStreamEvent[] = [];
  for await (const event of await client.responses.retrieve(id, { stream: true })) list.push(event);
  return list;
}

it('a gateway SIGKILLed and restarted while 20 background responses run: each completes, generated once', async () => {
  const env = chaosEnv('background-gateway', redis.url, [upstream], { WORKER_PROCESSES: '1' });
  await processes.start('worker', env);
  const doomed = await processes.start('gateway', env);
  const before = { ...upstream.stats };
  const ids = await createMany(sdk(doomed), 20);
  await eventually(() => inFlightAt(upstream) >= 10, 10_000);
  await doomed.stop('SIGKILL');
  const gateway = await processes.start('gateway', env);
  const finals = await allSettled(sdk(gateway), ids, 30_000);
  for (const final of finals) {
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(EXPECTED_TEXT);
  }
  // One generation each, none cut off: the gateway holds no part of them.
  expect(upstream.stats.requests - before.requests).toBe(20);
  expect(upstream.stats.completed - before.completed).toBe(20);
  expect(upstream.stats.aborted - before.aborted).toBe(0);
  const log = await events(sdk(gateway), ids[0] as string);
  expect(log.filter((event) => event.type === 'response.created')).toHaveLength(1);
  await processes.killAll();
}, 60_000);

it('a worker process SIGKILLed mid-generation: its responses are generated again and complete whole', async () => {
  const env = chaosEnv('background-worker', redis.url, [upstream], { WORKER_PROCESSES: '1' });
  const farm = await processes.start('worker', env);
  const gateway = await processes.start('gateway', env);
  const client = sdk(gateway);
  const [doomedPid] = readyWorkerPids(farm);
  expect(doomedPid).toBeTypeOf('number');
  const before = { ...upstream.stats };
  const ids = await createMany(client, 10);
  await eventually(() => inFlightAt(upstream) === 10, 10_000);
  // Partway through: some events of each are kept.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  process.kill(doomedPid as number, 'SIGKILL');
  await upstream.waitForAborted(before.aborted + 10, 5_000);
  const finals = await allSettled(client, ids, 40_000);
  for (const final of finals) {
    expect(final.status).toBe('completed');
    // The final object is the second generation's alone, whole.
    expect(final.output_text).toBe(EXPECTED_TEXT);
  }
  // Each generated twice: once cut off by the kill, once to completion.
  expect(upstream.stats.requests - before.requests).toBe(20);
  expect(upstream.stats.completed - before.completed).toBe(10);
  // The log says so: the first generation's events, then a new one from `response.created`.
  const log = await events(client, ids[0] as string);
  expect(log.map((event) => event.sequence_number)).toEqual(log.map((_event, index) => index));
  expect(log.filter((event) => event.type === 'response.created')).toHaveLength(2);
  expect(log.at(-1)?.type).toBe('response.completed');
  expect(farm.output.some((line) => line.includes('background response restarted'))).toBe(true);
  const metrics = await fetch(`${gateway.url}/metrics`).then((response) => response.text());
  expect(metrics).toMatch(/openai_proxy_background_responses\{status="completed"\} 10\b/);
  expect(metrics).toMatch(/openai_proxy_background_responses\{status="running"\} 0\b/);
}, 90_000);

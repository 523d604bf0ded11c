import { parseArgs } from 'node:util';
import { startMockUpstream } from '@openai-proxy/mock-upstream';
import { answers200, startApp, startRedis, waitUntil } from '@openai-proxy/test-support';
import { Redis } from 'ioredis';

// How much Redis memory one stored background response takes: the growth of used_memory over many
// completed responses, split by MEMORY USAGE into its hash (status, owner, object) and its events.

const QUEUE_PREFIX = '{bgmem}';
/** Requests in flight at once, to create the responses and to poll them. */
const CONCURRENCY = 50;
/** Responses whose two keys MEMORY USAGE measures. */
const SAMPLE = 20;
const POLL_TIMEOUT_MS = 300_000;

const { values } = parseArgs({
  options: {
    words: { type: 'string', default: '32,256' },
    responses: { type: 'string', default: '500' },
  },
});
const sizes = values.words.split(',').map(Number);
const count = Number(values.responses);
if (sizes.some((words) => !Number.isInteger(words) || words < 1) || !Number.isInteger(count) || count < 1)
  throw new Error('usage: background-memory [--words 32,256] [--responses 500]');

/** Runs `work` on every item, `CONCURRENCY` at a time, and gives the results in order. */
async function pooled<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, lane));
  return results;
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const body = await response.text();
  if (!response.ok) throw new Error(`${response.url}: ${response.status} ${body}`);
  return JSON.parse(body) as Record<string, unknown>;
}

async function createResponse(gatewayUrl: string): Promise<string> {
  const response = await fetch(`${gatewayUrl}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-model', input: 'measure', background: true }),
  });
  return String((await json(response)).id);
}

/** Polls every response until it is `completed`; any other end is a failed measurement. */
async function waitCompleted(gatewayUrl: string, ids: readonly string[]): Promise<void> {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  let pending = ids;
  while (pending.length > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.length} responses not completed in time`);
    const statuses = await pooled(pending, async (id) =>
      String((await json(await fetch(`${gatewayUrl}/v1/responses/${id}`))).status),
    );
    const ended = statuses.find((status) => !['queued', 'in_progress', 'completed'].includes(status));
    if (ended !== undefined) throw new Error(`a response ended ${ended}`);
    pending = pending.filter((_, index) => statuses[index] !== 'completed');
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  const match = /^used_memory:(\d+)/m.exec(await redis.info('memory'));
  if (match?.[1] === undefined) throw new Error('INFO memory without used_memory');
  return Number(match[1]);
}

/** Mean over `ids` of `measure`. */
async function mean(ids: readonly string[], measure: (id: string) => Promise<number>): Promise<number> {
  const values = await Promise.all(ids.map(measure));
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

const redis = await startRedis();
const upstream = await startMockUpstream({ name: 'bgmem', defaultBehavior: { kind: 'echo', words: 1 } });
const env = { UPSTREAM_API_URL: upstream.chatUrl, QUEUE_PREFIX, REDIS_URL: redis.url, LOG_LEVEL: 'warn' };
// At LOG_LEVEL=warn neither app prints its ready line: their probes say when they are up.
const gateway = await startApp('gateway', env, { waitFor: null });
const worker = await startApp('worker', { ...env, WORKER_PROCESSES: '1' }, { waitFor: null });
const client = new Redis(redis.url);
try {
  await waitUntil('readiness', gateway, () => answers200(`${gateway.url}/ready`));
  await waitUntil('health', worker, () => answers200(`${worker.url}/health`));
  for (const words of sizes) {
    upstream.setDefault({ kind: 'echo', words });
    const before = await usedMemory(client);
    const ids = await pooled(Array.from({ length: count }), () => createResponse(gateway.url));
    await waitCompleted(gateway.url, ids);
    // Let the worker's last writes and Redis's lazy frees settle before reading the total.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const perResponse = ((await usedMemory(client)) - before) / count;

    const sample = ids.slice(0, SAMPLE);
    const usage = async (key: string) => Number(await client.memory('USAGE', key, 'SAMPLES', 0));
    const hash = await mean(sample, (id) => usage(`${QUEUE_PREFIX}:bg:${id}`));
    const events = await mean(sample, (id) => usage(`${QUEUE_PREFIX}:bg:${id}:events`));
    const eventCount = await mean(sample, (id) => client.xlen(`${QUEUE_PREFIX}:bg:${id}:events`));
    const round = (bytes: number) => Math.round(bytes).toLocaleString('en-US');
    console.log(
      `${words} words: ${count} responses, ${eventCount.toFixed(1)} events each\n` +
        `  used_memory: ${round(perResponse)} bytes per response\n` +
        `  MEMORY USAGE (mean of ${sample.length}): hash ${round(hash)} + events ${round(events)} ` +
        `= ${round(hash + events)} bytes (${round(events / eventCount)} per event)`,
    );
  }
} finally {
  await client.quit();
  await Promise.allSettled([gateway.stop(), worker.stop()]);
  await Promise.allSettled([upstream.close(), redis.stop('SIGTERM')]);
}

import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { queueNames } from '@openai-proxy/shared';
import { startRedis, type TestRedis } from '@openai-proxy/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { flappingBehaviors } from './support/chaos/flapping.js';
import { type LoadPlan, startLoad } from './support/chaos/load.js';
import { isTransient, type RedisCensus, takeCensus } from './support/chaos/redis-census.js';
import { globEscape, scanKeys } from './support/chaos/redis-keys.js';
import { chaosEnv, clientTimeoutFor, Processes, waitForEmptyQueue } from './support/chaos/stack.js';
import { lossReport, printTally, tally } from './support/chaos/tally.js';
import { eventually } from './support/http.js';
import { readyWorkerPids } from './support/worker-pids.js';

// Redis stays clean: after 10,000 non-stream requests with faults mixed in (a flapping
// upstream beside a steady one, clients that leave, a worker process and a gateway SIGKILLed
// mid-run), Redis holds no more keys and no more memory than before, but for BullMQ's event
// stream, which BullMQ trims itself to about `streams.events.maxLen` entries (a Queue option,
// default 10,000; the proxy leaves it at that). A Redis restart is not among these faults: it
// would reset the memory being compared (chaos-redis-restart.test.ts covers it).

const TOTAL = 10_000;
/** BullMQ's default `streams.events.maxLen`; the proxy's Queue does not set it. */
const EVENTS_MAX_LEN = 10_000;
/**
 * `XADD … MAXLEN ~ n` trims whole stream nodes only, so the stream may run past n by up to
 * one node: `stream-node-max-entries`, 100 by default.
 */
const STREAM_NODE_ENTRIES = 100;
/**
 * What used_memory may differ by besides the event stream: allocator rounding, hash-table
 * sizes, client buffers. 1 MiB is under 105 bytes a request: a key or a message left behind
 * per request (a stored answer is about 600 bytes) would show well past it.
 */
const MEMORY_SLACK_BYTES = 1_048_576;

let redis: TestRedis;
let steady: MockUpstream;
let flapping: MockUpstream;
let inspector: Redis;
const processes = new Processes();

beforeAll(async () => {
  [redis, steady, flapping] = await Promise.all([
    startRedis(),
    startMockUpstream({ name: 'steady' }),
    startMockUpstream({ name: 'flapping' }),
  ]);
  flapping.enqueue(...flappingBehaviors(7, 12_000, 0));
  inspector = new Redis(redis.url);
});
afterAll(async () => {
  await processes.killAll();
  inspector.disconnect();
  await Promise.all([steady.close(), flapping.close(), redis.stop()]);
});

/** The queue drained and every stored answer expired: what is left is what stays. */
async function settle(prefix: string): Promise<void> {
  await waitForEmptyQueue(redis.url, prefix, 30_000);
  const results = `${globEscape(prefix)}:result:*`;
  await eventually(async () => (await scanKeys(inspector, results)).length === 0, 15_000, 200);
  // The jobs workers name as held drop out of their heartbeats within a few seconds of ending,
  // and an admission lives only while its job is being added: both keys empty, and so go.
  const { heldJobsKey, admissionsKey } = queueNames(prefix);
  await eventually(async () => (await inspector.exists(heldJobsKey, admissionsKey)) === 0, 15_000, 200);
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(2)} MiB`;
const summary = (census: RedisCensus) =>
  `dbsize ${census.dbsize}, used_memory ${mib(census.usedMemory)} ` +
  `(event stream ${census.eventsLength} entries, ${mib(census.eventsBytes)}), keys ${JSON.stringify(census.shapes)}`;

it('after 10,000 requests with faults mixed in, Redis holds no more keys and memory than before', async () => {
  const env = chaosEnv('clean', redis.url, [steady, flapping], {
    WORKER_PROCESSES: '2',
    RESULT_TTL_SECONDS: '2',
    UPSTREAM_COOLDOWN_MS: '100',
    UPSTREAM_COOLDOWN_MAX_MS: '400',
  });
  const prefix = env.QUEUE_PREFIX!;
  const worker = await processes.start('worker', env);
  const [first, second] = await Promise.all([
    processes.start('gateway', env),
    processes.start('gateway', env),
  ]);
  // The gateways the balancer sends to; one is killed mid-run and a fresh one takes its place.
  const gateways = [first.url, second.url];
  const plan = (total: number, faults: boolean): LoadPlan => ({
    total,
    concurrency: 200,
    words: 2,
    target: (index) => gateways[index % gateways.length]!,
    clientTimeoutMs: clientTimeoutFor(env),
    // About one client in a hundred leaves after a few ms: the cancel path (job removed or aborted).
    abandonAfterMs: (index) => (faults && index % 97 === 0 ? 1 + (index % 7) : undefined),
  });

  // Warm-up: BullMQ's keys and scripts exist, the stream has entries; then the baseline.
  await startLoad(plan(300, false)).done;
  await settle(prefix);
  const before = await takeCensus(inspector, prefix);

  const began = performance.now();
  const load = startLoad(plan(TOTAL, true));
  await eventually(() => load.results.length >= TOTAL * 0.3, 60_000);
  process.kill(readyWorkerPids(worker)[0]!, 'SIGKILL');
  await eventually(() => load.results.length >= TOTAL * 0.6, 60_000);
  gateways.splice(0, 1);
  await first.stop('SIGKILL');
  // As a supervisor would: a new gateway process (same connections to Redis as before the kill).
  const replacement = await processes.start('gateway', env);
  gateways.push(replacement.url);
  const results = await load.done;
  const seconds = (performance.now() - began) / 1000;
  await settle(prefix);
  const after = await takeCensus(inspector, prefix);

  const counts = tally(results);
  printTally('(7) 10,000 requests, faults mixed in', counts, {
    seconds: seconds.toFixed(1),
    'requests/s': Math.round(TOTAL / seconds),
    'calls to the flapping upstream': flapping.stats.requests,
  });
  console.log(`[chaos] (7) Redis before: ${summary(before)}`);
  console.log(`[chaos] (7) Redis after:  ${summary(after)}`);

  expect(counts.lost, lossReport(counts.details, processes.problems())).toBe(0);
  expect(counts.sent).toBe(TOTAL);
  // No kind of key is new, and no more keys than before (BullMQ's transient keys aside).
  const newShapes = Object.keys(after.shapes).filter((shape) => !(shape in before.shapes));
  expect(newShapes.filter((shape) => !isTransient(shape))).toEqual([]);
  expect(after.lasting).toBeLessThanOrEqual(before.lasting);
  // The event stream is bounded by BullMQ's trimming; everything else is back where it was.
  expect(after.eventsLength).toBeLessThanOrEqual(EVENTS_MAX_LEN + STREAM_NODE_ENTRIES);
  expect(after.usedMemory - after.eventsBytes).toBeLessThanOrEqual(
    before.usedMemory - before.eventsBytes + MEMORY_SLACK_BYTES,
  );
}, 120_000);

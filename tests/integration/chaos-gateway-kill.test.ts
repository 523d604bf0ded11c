import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type CompletionJobData, queueNames } from '@openai-proxy/shared';
import { startRedis, type TestRedis } from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLoad } from './support/chaos/load.js';
import { globEscape, JOB_ID, scanKeys } from './support/chaos/redis-keys.js';
import { chaosEnv, clientTimeoutFor, Processes, waitForEmptyQueue } from './support/chaos/stack.js';
import { lossReport, printTally, tally } from './support/chaos/tally.js';
import { eventually } from './support/http.js';

// Chaos under load: one of two gateways is SIGKILLed while many of its jobs wait in the queue.
// Its clients' connections break with it (cut, not lost: nothing can answer a client whose
// connection is gone); every request of the other gateway is answered; and the answers the
// workers still produce for the dead gateway are stored for RESULT_TTL_SECONDS, then gone.

let redis: TestRedis;
let upstream: MockUpstream;
let inspector: Redis;
const processes = new Processes();

beforeAll(async () => {
  [redis, upstream] = await Promise.all([
    startRedis(),
    // About 1.3 s a job (14 events, 100 ms apart).
    startMockUpstream({ name: 'steady', defaultBehavior: { kind: 'echo', chunkDelayMs: 100 } }),
  ]);
  inspector = new Redis(redis.url);
});
afterAll(async () => {
  await processes.killAll();
  inspector.disconnect();
  await Promise.all([upstream.close(), redis.stop()]);
});

it('a gateway SIGKILLed while its jobs are queued: the other gateway loses nothing, and no result of the dead one stays in Redis', async () => {
  // 20 jobs at a time (about 15 a second) against 80 clients: a queue builds up.
  const env = chaosEnv('gateway', redis.url, [upstream], {
    WORKER_PROCESSES: '1',
    WORKER_CONCURRENCY: '20',
    RESULT_TTL_SECONDS: '2',
  });
  const names = queueNames(env.QUEUE_PREFIX!);
  const queue = new Queue<CompletionJobData>(names.queue, {
    connection: { url: redis.url },
    prefix: names.prefix,
  });
  await processes.start('worker', env);
  const [doomed, survivor] = await Promise.all([
    processes.start('gateway', env),
    processes.start('gateway', env),
  ]);
  // A gateway's channel names its pid (QueuedCompleter.gatewayId).
  const ofDoomed = (job: { data: CompletionJobData }) => job.data.replyTo.includes(`-${doomed.child.pid}-`);
  const doomedWaiting = async () => (await queue.getWaiting()).filter(ofDoomed).length;

  let doomedAlive = true;
  const load = startLoad({
    total: 200,
    concurrency: 80,
    // As a balancer would: both gateways, then only the survivor once the other is gone.
    target: (index) => (doomedAlive && index % 2 === 0 ? doomed.url : survivor.url),
    clientTimeoutMs: clientTimeoutFor(env),
  });
  await eventually(async () => load.results.length >= 20 && (await doomedWaiting()) >= 15, 15_000);
  const queuedAtKill = await doomedWaiting();
  doomedAlive = false;
  await doomed.stop('SIGKILL');

  // Until the queue drains, the dead gateway's answers are stored (nobody hears them): count them.
  let storedPeak = 0;
  const resultPattern = `${globEscape(env.QUEUE_PREFIX!)}:result:*`;
  const watcher = setInterval(() => {
    void scanKeys(inspector, resultPattern).then((keys) => {
      storedPeak = Math.max(storedPeak, keys.length);
    });
  }, 100);
  const results = await load.done;
  await waitForEmptyQueue(redis.url, env.QUEUE_PREFIX!);
  clearInterval(watcher);
  await queue.close();
  // After RESULT_TTL_SECONDS the stored answers are gone, and so is every job's key.
  await eventually(async () => (await scanKeys(inspector, resultPattern)).length === 0, 10_000);
  const jobKeys = (await scanKeys(inspector, `${globEscape(env.QUEUE_PREFIX!)}:*`)).filter((key) =>
    JOB_ID.test(key),
  );

  const counts = tally(results);
  const survivorResults = results.filter((r) => r.target === survivor.url);
  printTally('(c) gateway SIGKILL', counts, {
    "dead gateway's jobs queued at the kill": queuedAtKill,
    'results stored for it (peak)': storedPeak,
    'result keys left': 0,
    'job keys left': jobKeys.length,
  });

  expect(counts.lost, lossReport(counts.details, processes.problems())).toBe(0);
  expect(counts.upstreamErrors + counts.refused).toBe(0);
  expect(survivorResults.every((r) => r.outcome.kind === 'answered')).toBe(true);
  // Only the dead gateway's clients were cut, at least every one whose job was queued.
  expect(results.filter((r) => r.outcome.kind === 'cut').every((r) => r.target === doomed.url)).toBe(true);
  expect(counts.cut).toBeGreaterThanOrEqual(queuedAtKill);
  expect(storedPeak).toBeGreaterThan(0);
  expect(jobKeys).toEqual([]);
}, 60_000);

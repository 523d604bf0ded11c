import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { queueNames } from '@openai-proxy/shared';
import { startRedis, type TestRedis } from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLoad } from './support/chaos/load.js';
import {
  chaosEnv,
  clientTimeoutFor,
  inFlightAt,
  Processes,
  waitForEmptyQueue,
} from './support/chaos/stack.js';
import { lossReport, printTally, tally } from './support/chaos/tally.js';
import { eventually } from './support/http.js';

// Chaos under load: Redis, persisted as docker-compose.yml runs it, is SIGKILLed while
// non-stream requests are in flight (some mid-fold, some still waiting in the queue) and
// started again on its append-only file.

let redis: TestRedis;
let aofDir: string;
let upstream: MockUpstream;
const processes = new Processes();

beforeAll(async () => {
  aofDir = await mkdtemp(join(tmpdir(), 'oaip-aof-'));
  [redis, upstream] = await Promise.all([
    // Persisted as docker-compose.yml runs it: append-only, fsync once a second.
    startRedis({ appendOnlyDir: aofDir, appendFsync: 'everysec' }),
    // About 1.3 s a job (14 events, 100 ms apart): many jobs are mid-fold when Redis dies.
    startMockUpstream({ name: 'steady', defaultBehavior: { kind: 'echo', chunkDelayMs: 100 } }),
  ]);
});
afterAll(async () => {
  await processes.killAll();
  await Promise.all([upstream.close(), redis.stop()]);
  await rm(aofDir, { recursive: true, force: true });
});

const healthOf = async (url: string) =>
  ((await (await fetch(`${url}/health`)).json()) as { status: string }).status;

it('Redis SIGKILLed mid-load and restarted on its AOF: every accepted request is answered', async () => {
  // 30 jobs at a time (about 23 a second) against 50 arrivals a second: a queue builds up, and
  // the jobs waiting in it exist only in Redis when it dies.
  const env = chaosEnv('redis', redis.url, [upstream], { WORKER_PROCESSES: '1', WORKER_CONCURRENCY: '30' });
  const names = queueNames(env.QUEUE_PREFIX!);
  const queue = new Queue(names.queue, { connection: { url: redis.url }, prefix: names.prefix });
  queue.on('error', () => undefined); // Its connection breaks with Redis; only read before the kill.
  await processes.start('worker', env);
  const gateway = await processes.start('gateway', env);

  const load = startLoad({
    total: 200,
    concurrency: 200,
    arrivalEveryMs: 20,
    target: () => gateway.url,
    clientTimeoutMs: clientTimeoutFor(env),
  });
  await eventually(async () => load.results.length >= 20 && (await queue.getWaitingCount()) >= 20, 15_000);
  const waitingAtKill = await queue.getWaitingCount();
  const foldingAtKill = inFlightAt(upstream);
  await queue.close();
  const killedAt = Date.now();
  await redis.stop('SIGKILL');
  // The gateway saw the outage (it refuses at the door now) before Redis comes back.
  await eventually(async () => (await healthOf(gateway.url)) === 'degraded');
  await redis.start();
  const restartedAt = Date.now();

  const results = await load.done;
  const counts = tally(results);
  const caught = results.filter((r) => r.startedAt < killedAt && r.endedAt >= killedAt);
  const answeredAfterRestart = caught.filter(
    (r) => r.endedAt > restartedAt && r.outcome.kind === 'answered',
  ).length;
  printTally('(a) Redis SIGKILL, AOF restart', counts, {
    'client requests in flight at the kill': caught.length,
    'jobs waiting in the queue at the kill': waitingAtKill,
    'upstream calls mid-fold at the kill': foldingAtKill,
    'answered after the restart': answeredAfterRestart,
  });

  expect(counts.lost, lossReport(counts.details, processes.problems())).toBe(0);
  expect(counts.cut).toBe(0);
  expect(counts.upstreamErrors).toBe(0);
  expect(counts.answered + counts.refused).toBe(counts.sent);
  // The fault met accepted requests, and they were answered from what the AOF kept.
  expect(answeredAfterRestart).toBeGreaterThan(0);
  await waitForEmptyQueue(redis.url, env.QUEUE_PREFIX!);
}, 60_000);

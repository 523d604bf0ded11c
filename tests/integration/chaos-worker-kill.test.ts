import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { startRedis, type TestRedis } from '@openai-proxy/test-support';
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
import { readyWorkerPids } from './support/worker-pids.js';

// Chaos under load: a worker process holding many jobs is SIGKILLed. Two worker farms, each
// with its own upstream, so the jobs the doomed process holds are counted exactly: they are
// the requests in flight at its upstream.

let redis: TestRedis;
let doomedUpstream: MockUpstream;
let survivorUpstream: MockUpstream;
const processes = new Processes();
// About 1.3 s a job (14 events, 100 ms apart): the doomed process holds many at once.
const slowEcho = { kind: 'echo', chunkDelayMs: 100 } as const;

beforeAll(async () => {
  [redis, doomedUpstream, survivorUpstream] = await Promise.all([
    startRedis(),
    startMockUpstream({ name: 'doomed', defaultBehavior: slowEcho }),
    startMockUpstream({ name: 'survivor', defaultBehavior: slowEcho }),
  ]);
});
afterAll(async () => {
  await processes.killAll();
  await Promise.all([doomedUpstream.close(), survivorUpstream.close(), redis.stop()]);
});

it('a worker process SIGKILLed while it holds many jobs: every job is taken up again and answered', async () => {
  const shared = chaosEnv('worker', redis.url, [survivorUpstream], { WORKER_PROCESSES: '1' });
  const doomedFarm = await processes.start('worker', { ...shared, UPSTREAM_API_URL: doomedUpstream.chatUrl });
  await processes.start('worker', shared);
  const gateway = await processes.start('gateway', shared);
  const [doomedPid] = readyWorkerPids(doomedFarm);
  expect(doomedPid).toBeTypeOf('number');

  const load = startLoad({
    total: 200,
    concurrency: 60,
    target: () => gateway.url,
    clientTimeoutMs: clientTimeoutFor(shared),
  });
  await eventually(() => load.results.length >= 20 && inFlightAt(doomedUpstream) >= 20, 15_000);
  const held = inFlightAt(doomedUpstream);
  const killedAt = Date.now();
  process.kill(doomedPid!, 'SIGKILL');
  // Its upstream calls die with it; the farm's primary starts a replacement.
  await doomedUpstream.waitForAborted(1);
  await eventually(() => readyWorkerPids(doomedFarm).length === 2, 15_000);

  const results = await load.done;
  const counts = tally(results);
  const upstreamCalls = doomedUpstream.stats.requests + survivorUpstream.stats.requests;
  printTally('(b) worker SIGKILL', counts, {
    'client requests in flight at the kill': results.filter(
      (r) => r.startedAt < killedAt && r.endedAt >= killedAt,
    ).length,
    'jobs held by the killed process': held,
    'upstream calls cut': doomedUpstream.stats.aborted,
    'upstream calls': upstreamCalls,
  });

  expect(counts.lost, lossReport(counts.details, processes.problems())).toBe(0);
  expect(counts.cut + counts.refused + counts.upstreamErrors).toBe(0);
  expect(counts.answered).toBe(counts.sent);
  await waitForEmptyQueue(redis.url, shared.QUEUE_PREFIX!);
}, 60_000);

import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { startRedis, type TestRedis } from '@openai-proxy/test-support';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { flappingBehaviors } from './support/chaos/flapping.js';
import { startLoad } from './support/chaos/load.js';
import { chaosEnv, clientTimeoutFor, Processes, waitForEmptyQueue } from './support/chaos/stack.js';
import { lossReport, printTally, tally } from './support/chaos/tally.js';

// Chaos under load: two upstreams that flap (5xx, 429, connection resets before and during
// the stream, mixed with successes). An error the upstreams caused is counted apart; nothing
// may be lost, and no answer may be a shortened or someone else's.

let redis: TestRedis;
let upstreams: MockUpstream[];
const processes = new Processes();

beforeAll(async () => {
  [redis, ...upstreams] = await Promise.all([
    startRedis(),
    startMockUpstream({ name: 'flap-a' }),
    startMockUpstream({ name: 'flap-b' }),
  ]);
  // More behaviours than calls (200 requests, at most 4 calls each); after them, plain echo.
  for (const [index, upstream] of upstreams.entries()) {
    upstream.enqueue(...flappingBehaviors(1_000 + index, 800));
  }
});
afterAll(async () => {
  await processes.killAll();
  await Promise.all([...upstreams.map((upstream) => upstream.close()), redis.stop()]);
});

it('two flapping upstreams: every request is answered or fails with an upstream error, none is lost', async () => {
  const env = chaosEnv('flap', redis.url, upstreams, {
    WORKER_PROCESSES: '1',
    // Short cool-downs, so a failing upstream comes back within the test.
    UPSTREAM_COOLDOWN_MS: '100',
    UPSTREAM_COOLDOWN_MAX_MS: '400',
  });
  await processes.start('worker', env);
  const gateway = await processes.start('gateway', env);

  const results = await startLoad({
    total: 200,
    concurrency: 40,
    target: () => gateway.url,
    clientTimeoutMs: clientTimeoutFor(env),
  }).done;
  const counts = tally(results);
  const calls = upstreams.reduce((sum, upstream) => sum + upstream.stats.requests, 0);
  printTally('(d) flapping upstreams', counts, { 'upstream calls': calls });

  expect(counts.lost, lossReport(counts.details, processes.problems())).toBe(0);
  expect(counts.cut + counts.refused).toBe(0);
  expect(counts.answered + counts.upstreamErrors).toBe(counts.sent);
  // The flapping was felt: failovers and stream retries, and some requests it defeated.
  expect(calls).toBeGreaterThan(counts.sent);
  expect(counts.answered).toBeGreaterThan(0);
  expect(counts.upstreamErrors).toBeGreaterThan(0);
  await waitForEmptyQueue(redis.url, env.QUEUE_PREFIX!);
}, 60_000);

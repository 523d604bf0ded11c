import { type MockBehavior, type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { queueNames } from '@openai-proxy/shared';
import {
  type AppProcess,
  type InProcessGateway,
  startApp,
  startInProcessGateway,
  startRedis,
  type TestRedis,
} from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { chatBody, eventually, type JsonAnswer, postJson } from './support/http.js';

// A worker farm that is told to stop takes no new job, finishes what it holds within
// SHUTDOWN_GRACE_MS, and hands back what it cannot finish: the upstream call is aborted and the
// job goes back to the queue before the process exits, so the next worker runs it at once
// instead of after BullMQ's stalled-job check. Worker farms as processes, the gateway in-process;
// the mock upstream counts every call, so a job run twice shows.

let redis: TestRedis;
let upstream: MockUpstream;
const farms: AppProcess[] = [];
const gateways: InProcessGateway[] = [];
const queues: Queue[] = [];
let prefixCounter = 0;

/** A stream of `words` words, one event every 200 ms: 20 events (about 4 s) for 18 words. */
const slowEcho = (words: number): MockBehavior => ({ kind: 'echo', chunkDelayMs: 200, words });
const wordsUpTo = (words: number) => Array.from({ length: words }, (_, i) => `w${i + 1}`).join(' ');

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'handback' })]);
});
afterEach(async () => {
  await Promise.all(farms.splice(0).map((farm) => farm.stop('SIGKILL')));
  await Promise.all(gateways.splice(0).map((gateway) => gateway.stop()));
  await Promise.all(queues.splice(0).map((queue) => queue.close()));
});
afterAll(async () => {
  await Promise.all([upstream.close(), redis.stop()]);
});

function stackEnv(extra: Record<string, string>): Record<string, string> {
  prefixCounter += 1;
  return {
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `{handback-${process.pid}-${prefixCounter}}`,
    WORKER_PROCESSES: '1',
    // Nobody's deadline passes, and the gateway queues while no worker beats, between farms.
    REQUEST_TIMEOUT_MS: '120000',
    NO_WORKERS_REFUSE_AFTER_MS: '0',
    ...extra,
  };
}

async function startStack(env: Record<string, string>) {
  const farm = await startFarm(env);
  const gateway = await startInProcessGateway(env);
  gateways.push(gateway);
  const names = queueNames(env.QUEUE_PREFIX!);
  const queue = new Queue(names.queue, { connection: { url: redis.url }, prefix: names.prefix });
  queues.push(queue);
  return { farm, gateway, queue };
}

async function startFarm(env: Record<string, string>): Promise<AppProcess> {
  const farm = await startApp('worker', env);
  farms.push(farm);
  return farm;
}

/** A request whose answer is awaited later: one a failed assertion leaves behind is no unhandled error. */
function ask(gateway: InProcessGateway, content: string): Promise<JsonAnswer> {
  const answer = postJson(`${gateway.url}/v1/chat/completions`, chatBody(content));
  answer.catch(() => undefined);
  return answer;
}

const contentOf = (answer: JsonAnswer) =>
  (answer.json.choices as { message: { content: string } }[] | undefined)?.[0]?.message.content;

const JOB_LINE = '"msg":"job"';
const handBackLines = (farm: AppProcess) =>
  farm.output.filter((line) => line.includes('"msg":"job handed back to the queue"'));

/** The `job` lines a farm logged: one per job its processor ran to an outcome. */
const jobLines = (farm: AppProcess) =>
  farm.output.filter((line) => line.startsWith('{') && (JSON.parse(line) as { msg: string }).msg === 'job');

it('a stopping farm takes no new job: the job queued after its SIGTERM waits for the next farm, each upstream is called once', async () => {
  const env = stackEnv({ SHUTDOWN_GRACE_MS: '6000' });
  const { farm: stopping, gateway, queue } = await startStack(env);
  // The first request streams for about 4 s, every later one for about 12 s.
  upstream.enqueue(slowEcho(18));
  upstream.setDefault(slowEcho(58));
  const before = upstream.stats.requests;

  const short = ask(gateway, 'held at the stop');
  await upstream.waitForRequests(before + 1);
  void stopping.stop('SIGTERM');
  // Printed once the child stopped taking jobs, while it still holds the short one.
  await stopping.waitForOutput('waiting for active jobs');

  const long = ask(gateway, 'sent after the stop');
  await eventually(async () => {
    const counts = await queue.getJobCounts('waiting', 'active');
    return counts.waiting! + counts.active! >= 2;
  });
  // The stopping farm did not take it: it waits for a worker.
  expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });

  const next = await startFarm(env);
  const [shortAnswer, longAnswer] = await Promise.all([short, long]);
  expect(shortAnswer.status).toBe(200);
  expect(contentOf(shortAnswer)).toBe(wordsUpTo(18));
  expect(longAnswer.status).toBe(200);
  expect(contentOf(longAnswer)).toBe(wordsUpTo(58));

  // `closed`: exited, and every line it printed read.
  expect(await stopping.closed).toBe(0);
  expect(stopping.output.filter((line) => line.includes('jobs unfinished'))).toEqual([]);
  // Each farm ran one job, and each request reached the upstream once. A farm logs its job's
  // line just after the answer left.
  await next.waitForOutput(JOB_LINE);
  expect(jobLines(stopping)).toHaveLength(1);
  expect(handBackLines(stopping)).toEqual([]);
  expect(jobLines(next)).toHaveLength(1);
  expect(upstream.stats.requests - before).toBe(2);
}, 60_000);

it('a job longer than the grace is handed back at its end: the upstream call is aborted, the next farm runs it, its client gets a 200', async () => {
  // No stalled-job check could return the job within the test: only the hand-back can.
  const env = stackEnv({
    SHUTDOWN_GRACE_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '600000',
    WORKER_LOCK_DURATION_MS: '600000',
  });
  const { farm: stopping, gateway, queue } = await startStack(env);
  // About 12 s at the first call, far past the grace; at once at the second.
  upstream.enqueue(slowEcho(58));
  upstream.setDefault({ kind: 'echo', words: 58 });
  const before = { ...upstream.stats };

  const answer = ask(gateway, 'longer than the grace');
  await upstream.waitForRequests(before.requests + 1);
  void stopping.stop('SIGTERM');
  expect(await stopping.closed).toBe(0);
  expect(stopping.output.filter((line) => line.includes('jobs unfinished'))).toEqual([]);
  // Handed back before the farm exited: waiting again, held by nobody, its upstream call cut.
  expect(await queue.getJobCounts('waiting', 'active')).toEqual({ waiting: 1, active: 0 });
  await upstream.waitForAborted(before.aborted + 1);
  // Nothing was answered for the attempt that was handed back.
  expect(jobLines(stopping)).toEqual([]);
  expect(handBackLines(stopping)).toHaveLength(1);

  const next = await startFarm(env);
  const result = await answer;
  expect(result.status).toBe(200);
  expect(contentOf(result)).toBe(wordsUpTo(58));
  await next.waitForOutput(JOB_LINE);
  expect(jobLines(next)).toHaveLength(1);
  expect(upstream.stats.requests - before.requests).toBe(2);
  expect(upstream.stats.aborted - before.aborted).toBe(1);
  expect(upstream.stats.completed - before.completed).toBe(1);
}, 60_000);

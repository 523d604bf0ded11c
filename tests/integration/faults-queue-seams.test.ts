import { queueNames } from '@openai-proxy/shared';
import {
  type AppProcess,
  freePort,
  type InProcessGateway,
  type Stack,
  startApp,
  startInProcessGateway,
  startRedis,
  startStack,
  type TestRedis,
} from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// The seams between gateway, Redis and workers, where an answer could wait in silence or a job
// be paid for twice: admission exact across replicas, jobs that vanish inside Redis, a gateway
// started before its Redis, jobs whose gateway died. Redis, workers and the gateways that get
// signals are real processes; the rest of the gateways run in the test's process.

let stack: Stack<'seams'>;
const processes: AppProcess[] = [];
const gateways: InProcessGateway[] = [];
const redises: TestRedis[] = [];
let prefixCounter = 0;

beforeAll(async () => {
  stack = await startStack({ redis: true, upstreams: ['seams'] });
});
afterEach(async () => {
  await Promise.all([
    ...processes.splice(0).map((app) => app.stop('SIGKILL')),
    ...gateways.splice(0).map((gateway) => gateway.stop()),
  ]);
  await Promise.all(redises.splice(0).map((redis) => redis.stop()));
  stack.upstreams.seams.setDefault({ kind: 'echo' });
});
afterAll(() => stack?.stop());

function env(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  prefixCounter += 1;
  return {
    UPSTREAM_API_URL: stack.upstreams.seams.chatUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `{seams-${process.pid}-${prefixCounter}}`,
    WORKER_PROCESSES: '1',
    SHUTDOWN_GRACE_MS: '2000',
    ...extra,
  };
}

async function app(kind: 'gateway' | 'worker', vars: Record<string, string>): Promise<AppProcess> {
  const started = await startApp(kind, vars);
  processes.push(started);
  return started;
}

async function gateway(vars: Record<string, string>): Promise<InProcessGateway> {
  const started = await startInProcessGateway(vars);
  gateways.push(started);
  return started;
}

async function ownRedis(): Promise<TestRedis> {
  const redis = await startRedis();
  redises.push(redis);
  return redis;
}

const chat = (gw: { url: string }, content: string, signal?: AbortSignal) =>
  postJson(`${gw.url}/v1/chat/completions`, chatBody(content), {}, signal);

function queueFor(redisUrl: string, vars: Record<string, string>): Queue {
  const names = queueNames(vars.QUEUE_PREFIX ?? '');
  return new Queue(names.queue, { connection: { url: redisUrl }, prefix: names.prefix });
}

const healthOf = async (gw: { url: string }) =>
  ((await (await fetch(`${gw.url}/health`)).json()) as { status: string }).status;

describe('admission', () => {
  it('MAX_QUEUE_DEPTH is exact across gateway replicas: a burst of 40 with no worker leaves 5 waiting', async () => {
    const vars = env(stack.redis.url, { MAX_QUEUE_DEPTH: '5', NO_WORKERS_REFUSE_AFTER_MS: '0' });
    const replicas = await Promise.all([gateway(vars), gateway(vars)]);
    const queue = queueFor(stack.redis.url, vars);
    const clients = Array.from({ length: 40 }, () => new AbortController());
    const answers = clients.map((client, index) =>
      chat(replicas[index % 2]!, `burst ${index}`, client.signal).catch(() => undefined),
    );
    const refused: Array<Awaited<ReturnType<typeof chat>>> = [];
    for (const answer of answers) void answer.then((result) => result && refused.push(result));
    try {
      // Every request is either waiting in the queue or refused: wait until all 40 are one or the other.
      await eventually(async () => refused.length + (await queue.count()) >= 40, 15_000);
      expect(await queue.count()).toBe(5);
      expect(refused).toHaveLength(35);
      for (const answer of refused) {
        expect(answer.status).toBe(503);
        expect(answer.json.error?.code, answer.text).toBe('queue_full');
        expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      }
    } finally {
      for (const client of clients) client.abort();
      await Promise.all(answers);
      await queue.close();
    }
    expect(stack.upstreams.seams.stats.requests).toBe(0);
  });
});

describe('jobs that vanish inside Redis', () => {
  it('a Redis restarted without persistence: the running jobs are answered, the waiting ones get 503 job_lost', async () => {
    const redis = await ownRedis();
    const upstream = stack.upstreams.seams;
    // About 10 s a job (14 events, 700 ms apart): longer than two looks for lost jobs.
    upstream.setDefault({ kind: 'echo', chunkDelayMs: 700 });
    const vars = env(redis.url, { WORKER_CONCURRENCY: '2', REQUEST_TIMEOUT_MS: '120000' });
    await app('worker', vars);
    const gw = await gateway(vars);
    const queue = queueFor(redis.url, vars);
    const before = upstream.stats.requests;
    const answers = [0, 1, 2, 3].map((index) => chat(gw, `restart ${index}`));
    await eventually(async () => upstream.stats.requests - before === 2 && (await queue.count()) === 2);
    await queue.close();
    await redis.restart();

    const results = await Promise.all(answers);
    const statuses = results.map((result) => result.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503]);
    for (const lost of results.filter((result) => result.status === 503)) {
      expect(lost.json.error?.code).toBe('job_lost');
      expect(lost.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    // The lost jobs never reached an upstream.
    expect(upstream.stats.requests - before).toBe(2);
  }, 60_000);

  it('a FLUSHDB under waiting jobs: each is answered 503 job_lost, not left to its deadline', async () => {
    const redis = await ownRedis();
    const vars = env(redis.url, { NO_WORKERS_REFUSE_AFTER_MS: '0', REQUEST_TIMEOUT_MS: '120000' });
    const gw = await gateway(vars);
    const queue = queueFor(redis.url, vars);
    const answers = [0, 1, 2].map((index) => chat(gw, `flushed ${index}`));
    await eventually(async () => (await queue.count()) === 3);
    await queue.close();
    const admin = new Redis(redis.url);
    await admin.flushdb();
    admin.disconnect();
    const results = await Promise.all(answers);
    expect(results.map((result) => [result.status, result.json.error?.code])).toEqual([
      [503, 'job_lost'],
      [503, 'job_lost'],
      [503, 'job_lost'],
    ]);
  });
});

describe('a gateway started before its Redis', () => {
  it('listens, serves streams, refuses non-stream quickly, logs one line per interval, and takes Redis up when it comes', async () => {
    const redis = await ownRedis();
    await redis.stop();
    const vars = env(redis.url, { NO_WORKERS_REFUSE_AFTER_MS: '0' });
    const gw = await app('gateway', vars);
    expect(await healthOf(gw)).toBe('degraded');

    const stream = await postJson(`${gw.url}/v1/chat/completions`, chatBody('streamed', { stream: true }));
    expect(stream.status).toBe(200);
    expect(stream.text).toContain('data: [DONE]');
    const refused = await chat(gw, 'queued');
    expect(refused.status).toBe(503);
    expect(refused.json.error?.code).toBe('queue_unavailable');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);

    // Five seconds of reconnect attempts (one every ≤ 2 s per connection): one line, no stack.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const redisLines = gw.output.filter((line) => /redis/i.test(line) && /"level":40/.test(line));
    expect(redisLines).toHaveLength(1);
    expect(redisLines[0]).toContain('redis unavailable');
    expect(gw.output.some((line) => /^\s+at /.test(line) || line.includes('\\n    at '))).toBe(false);
    const warnings = gw.output.filter((line) => /"level":(40|50|60)/.test(line));
    expect(warnings, warnings.join('\n')).toEqual(redisLines);

    await redis.start();
    await eventually(async () => (await healthOf(gw)) === 'ok', 15_000);
    await gw.waitForOutput('redis available again');
    await app('worker', vars);
    const answered = await chat(gw, 'after redis came');
    expect(answered.status).toBe(200);
  }, 45_000);
});

describe('jobs whose gateway is gone', () => {
  it('a SIGKILLed gateway: its queued jobs are skipped and counted, never sent upstream', async () => {
    const vars = env(stack.redis.url, { NO_WORKERS_REFUSE_AFTER_MS: '0' });
    const names = queueNames(vars.QUEUE_PREFIX ?? '');
    const doomed = await app('gateway', vars);
    const queue = queueFor(stack.redis.url, vars);
    const clients = [0, 1, 2].map((index) => chat(doomed, `orphan ${index}`).catch(() => 'cut'));
    await eventually(async () => (await queue.count()) === 3);
    const [job] = await queue.getWaiting();
    const doomedId = (job?.data as { gatewayId: string } | undefined)?.gatewayId ?? 'none';
    await doomed.stop('SIGKILL');
    expect(await Promise.all(clients)).toEqual(['cut', 'cut', 'cut']);

    // Gone once its heartbeat is older than a worker trusts (presence is scored by Redis's clock).
    const inspector = new Redis(stack.redis.url);
    try {
      await eventually(
        async () => {
          const [seconds] = await inspector.time();
          const lastBeat = await inspector.zscore(names.gatewaysKey, doomedId);
          return lastBeat !== null && Number(seconds) * 1000 - Number(lastBeat) > 7_000;
        },
        15_000,
        200,
      );
    } finally {
      inspector.disconnect();
    }
    const before = stack.upstreams.seams.stats.requests;
    const port = await freePort();
    const worker = await app('worker', { ...vars, WORKER_METRICS_PORT: String(port) });
    await eventually(async () => (await queue.count()) === 0 && (await queue.getActiveCount()) === 0);
    await queue.close();
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/^openai_proxy_worker_jobs_total\{outcome="gateway_gone"\} 3$/m);
    expect(stack.upstreams.seams.stats.requests - before).toBe(0);
  }, 45_000);
});

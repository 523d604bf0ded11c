import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { encodeAnswer, queueNames } from '@openai-proxy/shared';
import {
  type AppProcess,
  type InProcessGateway,
  type Stack,
  startApp,
  startInProcessGateway,
  startStack,
  type TestRedis,
} from '@openai-proxy/test-support';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';
import { readyWorkerPids } from './support/worker-pids.js';

// Issue 4, queue side: every accepted request is answered, nothing hangs, nothing is lost.
// Each test starts its own worker farm as a process (killed, signalled) and its own gateway in the
// test's process, except where the gateway's process itself gets the signal.

let stack: Stack<'q'>;
let redis: TestRedis;
let upstream: MockUpstream;
const processes: AppProcess[] = [];
const gateways: InProcessGateway[] = [];
let prefixCounter = 0;

beforeAll(async () => {
  stack = await startStack({ redis: true, upstreams: ['q'] });
  redis = stack.redis;
  upstream = stack.upstreams.q;
});
afterEach(async () => {
  await Promise.all([
    ...processes.splice(0).map((app) => app.stop('SIGKILL')),
    ...gateways.splice(0).map((gateway) => gateway.stop()),
  ]);
  upstream.setDefault({ kind: 'echo' });
});
afterAll(() => stack?.stop());

/** A fresh prefix per test: no job of one test is seen by another. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  prefixCounter += 1;
  return {
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `{faults-${process.pid}-${prefixCounter}}`,
    WORKER_PROCESSES: '1',
    WORKER_LOCK_DURATION_MS: '1000',
    WORKER_STALLED_INTERVAL_MS: '300',
    RESULT_POLL_INTERVAL_MS: '200',
    SHUTDOWN_GRACE_MS: '10000',
    ...extra,
  };
}

async function app(kind: 'gateway' | 'worker', vars: Record<string, string>): Promise<AppProcess> {
  const process = await startApp(kind, vars);
  processes.push(process);
  return process;
}

async function gateway(vars: Record<string, string>): Promise<InProcessGateway> {
  const started = await startInProcessGateway(vars);
  gateways.push(started);
  return started;
}

const chat = (
  gw: { url: string },
  content: string,
  extra: Record<string, unknown> = {},
  signal?: AbortSignal,
) => postJson(`${gw.url}/v1/chat/completions`, chatBody(content, extra), {}, signal);

const contentOf = (json: Record<string, unknown>) =>
  (json.choices as { message: { content: string } }[] | undefined)?.[0]?.message.content;

function queueFor(vars: Record<string, string>): Queue {
  const names = queueNames(vars.QUEUE_PREFIX ?? '');
  return new Queue(names.queue, { connection: { url: redis.url }, prefix: names.prefix });
}

describe('worker processes', () => {
  it('a worker child killed with SIGKILL mid-job: another takes the job up and the client still gets its answer', async () => {
    const vars = env();
    upstream.setDefault({ kind: 'echo', chunkDelayMs: 40, words: 25 });
    const worker = await app('worker', vars);
    const gw = await gateway(vars);
    const [firstChild] = readyWorkerPids(worker);
    expect(firstChild).toBeTypeOf('number');
    const before = upstream.stats.requests;
    const answer = chat(gw, 'survive');
    await upstream.waitForRequests(before + 1);
    process.kill(firstChild!, 'SIGKILL');
    const result = await answer;
    expect(result.status).toBe(200);
    expect(contentOf(result.json)).toBe(Array.from({ length: 25 }, (_, i) => `w${i + 1}`).join(' '));
    expect(worker.output.some((line) => line.includes('starting a replacement'))).toBe(true);
    expect(readyWorkerPids(worker).length).toBe(2);
    expect(upstream.stats.requests - before).toBe(2);
  });

  it('a job whose worker dies twice is answered with 502 job_failed, not left to its deadline', async () => {
    const vars = env();
    upstream.setDefault({ kind: 'hang', afterHeaders: true });
    const worker = await app('worker', vars);
    const gw = await gateway(vars);
    const before = upstream.stats.requests;
    const answer = chat(gw, 'doomed twice');
    for (let death = 1; death <= 2; death += 1) {
      await upstream.waitForRequests(before + death, 15_000);
      await eventually(() => readyWorkerPids(worker).length === death);
      process.kill(readyWorkerPids(worker)[death - 1]!, 'SIGKILL');
    }
    const result = await answer;
    expect(result.status).toBe(502);
    expect(result.json.error?.code).toBe('job_failed');
    expect(result.json.error?.message).toContain('stalled');
    // Two tries reached the upstream; BullMQ's limit (maxStalledCount 1) stopped a third.
    expect(upstream.stats.requests - before).toBe(2);
  });

  it('SIGTERM on the worker farm finishes active jobs before exiting (no accepted job dropped by a deploy)', async () => {
    const vars = env();
    upstream.setDefault({ kind: 'echo', chunkDelayMs: 40, words: 15 });
    const worker = await app('worker', vars);
    const gw = await gateway(vars);
    const before = upstream.stats.requests;
    const answers = Promise.all([chat(gw, 'one'), chat(gw, 'two')]);
    await upstream.waitForRequests(before + 2);
    const exitCode = worker.stop('SIGTERM');
    for (const result of await answers) {
      expect(result.status).toBe(200);
      expect(contentOf(result.json)).toMatch(/^w1 w2 .* w15$/);
    }
    expect(await exitCode).toBe(0);
  });
});

describe('gateway processes', () => {
  it('SIGTERM on a gateway finishes in-flight requests within the grace period, then exits', async () => {
    const vars = env();
    upstream.setDefault({ kind: 'echo', chunkDelayMs: 40, words: 15 });
    await app('worker', vars);
    const gw = await app('gateway', vars);
    const before = upstream.stats.requests;
    const answer = chat(gw, 'in flight');
    await upstream.waitForRequests(before + 1);
    const exitCode = gw.stop('SIGTERM');
    const result = await answer;
    expect(result.status).toBe(200);
    expect(contentOf(result.json)).toMatch(/ w15$/);
    expect(await exitCode).toBe(0);
  });

  it('a missed pub/sub message is recovered from the stored result', async () => {
    const vars = env();
    const gw = await gateway(vars);
    const names = queueNames(vars.QUEUE_PREFIX!);
    const store = new Redis(redis.url);
    // A stand-in worker that stores the result but never publishes it, as if the gateway's
    // subscriber had been reconnecting at that moment.
    const silentWorker = new Worker(
      names.queue,
      async (job) => {
        const message = encodeAnswer({
          jobId: String(job.id),
          status: 200,
          queueWaitMs: 1,
          body: '{"recovered":true}',
          upstream: null,
          model: null,
          usage: null,
          errorCode: null,
          headers: {},
        });
        await store.set(names.resultKey(String(job.id)), message, 'EX', 60);
      },
      { connection: { url: redis.url }, prefix: names.prefix },
    );
    try {
      const result = await chat(gw, 'lost message');
      expect(result.status).toBe(200);
      expect(result.json).toEqual({ recovered: true });
    } finally {
      await silentWorker.close();
      store.disconnect();
    }
  });

  it('no request waits past its deadline when no worker ever answers', async () => {
    const vars = env({ REQUEST_TIMEOUT_MS: '500' });
    const gw = await gateway(vars);
    const result = await chat(gw, 'nobody home');
    expect(result.status).toBe(504);
    expect(result.json.error?.code).toBe('deadline_exceeded');
    const queue = queueFor(vars);
    try {
      // The expired job was withdrawn: a worker started later finds nothing to do.
      await eventually(async () => (await queue.count()) === 0);
    } finally {
      await queue.close();
    }
  });
});

describe('clients that leave', () => {
  it('an active job is cancelled: the worker aborts its upstream call', async () => {
    const vars = env();
    upstream.setDefault({ kind: 'hang', afterHeaders: true });
    await app('worker', vars);
    const gw = await gateway(vars);
    const before = upstream.stats.requests;
    const abortedBefore = upstream.stats.aborted;
    const controller = new AbortController();
    const answer = chat(gw, 'bye', {}, controller.signal).catch((error: unknown) => error);
    await upstream.waitForRequests(before + 1);
    controller.abort();
    await answer;
    await upstream.waitForAborted(abortedBefore + 1);
    expect(upstream.stats.aborted - abortedBefore).toBe(1);
  });

  it('a waiting job is removed from the queue and never reaches an upstream', async () => {
    const vars = env();
    const gw = await gateway(vars);
    const queue = queueFor(vars);
    try {
      const controller = new AbortController();
      const answer = chat(gw, 'never mind', {}, controller.signal).catch((error: unknown) => error);
      await eventually(async () => (await queue.count()) === 1);
      controller.abort();
      await answer;
      await eventually(async () => (await queue.count()) === 0);
      const before = upstream.stats.requests;
      await app('worker', vars);
      // A request made after the worker started is answered, and it is the only upstream call.
      const result = await chat(gw, 'after');
      expect(result.status).toBe(200);
      expect(upstream.stats.requests - before).toBe(1);
    } finally {
      await queue.close();
    }
  });

  it('a streaming client that leaves aborts the upstream request', async () => {
    const vars = env();
    upstream.setDefault({ kind: 'hang', afterHeaders: true });
    const gw = await gateway(vars);
    const abortedBefore = upstream.stats.aborted;
    const before = upstream.stats.requests;
    const controller = new AbortController();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('stream then leave', { stream: true })),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    await upstream.waitForRequests(before + 1);
    controller.abort();
    await upstream.waitForAborted(abortedBefore + 1);
  });
});

describe('Redis outages', () => {
  it('answers 503 with Retry-After while Redis is down, says degraded, and resumes by itself', async () => {
    const vars = env();
    await app('worker', vars);
    const gw = await gateway(vars);
    expect((await chat(gw, 'before')).status).toBe(200);
    await redis.stop();
    try {
      await eventually(async () => {
        const health = (await (await fetch(`${gw.url}/health`)).json()) as { status: string };
        return health.status === 'degraded';
      });
      const during = await chat(gw, 'during');
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(during.json.error?.code).toBe('queue_unavailable');
    } finally {
      await redis.start();
    }
    await eventually(async () => {
      const health = (await (await fetch(`${gw.url}/health`)).json()) as { status: string };
      return health.status === 'ok';
    }, 15_000);
    const after = await chat(gw, 'after');
    expect(after.status).toBe(200);
    expect(contentOf(after.json)).toBe('echo: after');
  });
});

describe('backpressure', () => {
  it('past MAX_QUEUE_DEPTH new requests get 503 queue_full with Retry-After', async () => {
    const vars = env({ MAX_QUEUE_DEPTH: '2' });
    const gw = await gateway(vars);
    const waiting = [new AbortController(), new AbortController()];
    const held = waiting.map((controller, i) =>
      chat(gw, `held ${i}`, {}, controller.signal).catch(() => undefined),
    );
    const store = new Redis(redis.url);
    try {
      // Both held jobs in the queue first: a request sent beside them could take a place first.
      const wait = `${vars.QUEUE_PREFIX}:completions:wait`;
      await eventually(async () => (await store.llen(wait)) === 2);
      let refused: Awaited<ReturnType<typeof chat>> | undefined;
      await eventually(async () => {
        const attempt = new AbortController();
        const result = await Promise.race([
          chat(gw, 'one more', {}, attempt.signal),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 300)),
        ]);
        attempt.abort();
        if (result?.status === 503) refused = result;
        return refused !== undefined;
      });
      expect(refused?.json.error?.code).toBe('queue_full');
      expect(refused?.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      for (const controller of waiting) controller.abort();
      await Promise.all(held);
      store.disconnect();
    }
  });

  it('past MAX_INFLIGHT a gateway answers 503 gateway_overloaded at once', async () => {
    const vars = env({ MAX_INFLIGHT: '2' });
    delete vars.REDIS_URL;
    upstream.setDefault({ kind: 'hang' });
    const gw = await gateway(vars);
    const controllers = [new AbortController(), new AbortController()];
    const before = upstream.stats.requests;
    const held = controllers.map((controller, i) =>
      chat(gw, `hold ${i}`, {}, controller.signal).catch(() => undefined),
    );
    await upstream.waitForRequests(before + 2);
    const refused = await chat(gw, 'third');
    expect(refused.status).toBe(503);
    expect(refused.json.error?.code).toBe('gateway_overloaded');
    expect(refused.headers.get('retry-after')).toBe('1');
    for (const controller of controllers) controller.abort();
    await Promise.all(held);
    // Health stays reachable under load, and capacity comes back when requests end.
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });
});

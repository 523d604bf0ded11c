import type { MockUpstream } from '@openai-proxy/mock-upstream';
import {
  type AppProcess,
  type InProcessGateway,
  type Stack,
  startStack,
  type TestRedis,
} from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// /health is liveness (the process answers, and its body says how the upstreams fare), /ready is
// readiness of this process (Redis in queue mode, workers alive). Readiness follows Redis going
// away and coming back, never the upstreams: every replica shares them, so a provider's bad minute
// must not unlist them all. The gateways run in the test's process, the worker farm as a process.

let stack: Stack;
let redis: TestRedis;
let upstream: MockUpstream;
let queueGateway: InProcessGateway;
let worker: AppProcess;
let standaloneGateway: InProcessGateway;

beforeAll(async () => {
  const started = await startStack({
    redis: true,
    upstreams: ['ready'],
    env: { QUEUE_PREFIX: `{test-${process.pid}-obs-ready}` },
    gateways: {
      queue: { run: 'in-process' },
      // A failing upstream stays out of rotation for a minute: long enough to probe while it cools.
      standalone: {
        run: 'in-process',
        standalone: true,
        env: { UPSTREAM_COOLDOWN_MS: '60000', UPSTREAM_COOLDOWN_MAX_MS: '60000' },
      },
    },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
  stack = started;
  redis = started.redis;
  upstream = started.upstreams.ready;
  ({ queue: queueGateway, standalone: standaloneGateway } = started.gateways);
  worker = started.workers.farm;
});

afterAll(() => stack?.stop());

interface Probe {
  status: number;
  body: {
    status?: string;
    checks?: Record<string, string>;
    mode?: string;
    upstreams?: { total: number; healthy: number; coolingDown: number };
  };
}

async function probe(url: string): Promise<Probe> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Probe['body'] };
}

/**
 * Polls `url` until it answers `status`, up to a deadline. Readiness has no event to await from
 * outside the gateway, so polling the endpoint is the honest way to watch it change.
 */
async function untilStatus(url: string, status: number, deadlineMs = 20_000): Promise<Probe> {
  const deadline = Date.now() + deadlineMs;
  let last: Probe | undefined;
  while (Date.now() < deadline) {
    last = await probe(url);
    if (last.status === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer ${status} within ${deadlineMs} ms; last: ${JSON.stringify(last)}`);
}

describe('/ready in queue mode follows Redis', () => {
  it('is ready while Redis and the upstream are there', async () => {
    const ready = await probe(`${queueGateway.url}/ready`);
    expect(ready).toEqual({
      status: 200,
      body: { status: 'ready', mode: 'queue', checks: { queue: 'ok', workers: 'ok' } },
    });
  });

  it('flips to 503 when Redis stops, while /health still answers (degraded)', async () => {
    await redis.stop();
    const notReady = await untilStatus(`${queueGateway.url}/ready`, 503);
    expect(notReady.body).toMatchObject({
      status: 'not_ready',
      checks: { queue: 'unavailable' },
    });
    const health = await probe(`${queueGateway.url}/health`);
    expect(health).toMatchObject({ status: 200, body: { status: 'degraded', mode: 'queue' } });
    // The worker farm's primary is alive too: its metrics port answers /health.
    expect((await fetch(`${worker.url}/health`)).status).toBe(200);
  });

  it('flips back to 200 when Redis returns', async () => {
    await redis.start();
    const ready = await untilStatus(`${queueGateway.url}/ready`, 200);
    expect(ready.body).toMatchObject({ status: 'ready', checks: { queue: 'ok' } });
    expect((await probe(`${queueGateway.url}/health`)).body.status).toBe('ok');
  });
});

describe('/ready ignores the upstreams; /health reports them', () => {
  it('stays 200 while every upstream cools down after a failure, and /health says they cool down', async () => {
    expect(await probe(`${standaloneGateway.url}/health`)).toMatchObject({
      status: 200,
      body: { upstreams: { total: 1, healthy: 1, coolingDown: 0 } },
    });
    const callsBefore = upstream.stats.requests;
    upstream.enqueue({ kind: 'status', status: 503 });
    const failed = await fetch(`${standaloneGateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'fail' }] }),
    });
    expect(failed.status).toBe(503);
    // One call crossed to the upstream: the failure that started its cool-down.
    expect(upstream.stats.requests - callsBefore).toBe(1);
    const ready = await probe(`${standaloneGateway.url}/ready`);
    expect(ready).toEqual({
      status: 200,
      body: { status: 'ready', mode: 'standalone', checks: {} },
    });
    const health = await probe(`${standaloneGateway.url}/health`);
    expect(health).toMatchObject({
      status: 200,
      body: { status: 'ok', mode: 'standalone', upstreams: { total: 1, healthy: 0, coolingDown: 1 } },
    });
  });
});

import { loadGatewayConfig, type RunningGateway, startGateway } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { createLogger } from '@openai-proxy/shared';
import { type AppProcess, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// A queue with no worker must not wait in silence: gateways watch the workers' heartbeats,
// /ready names `no_workers`, and new non-stream requests get a quick 503 once no worker has been
// alive for NO_WORKERS_REFUSE_AFTER_MS. Jobs already queued keep waiting through a gap in a farm
// that was seen; a gateway that never saw a worker refuses those too. Turned off, the
// gateway waits for workers as before (scale-to-zero farms). Gateways in-process, workers as
// processes.

let redis: TestRedis;
let upstream: MockUpstream;
const started: RunningGateway[] = [];
const workers: AppProcess[] = [];

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'no-workers' })]);
});

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await Promise.all(started.map((gateway) => gateway.close()));
  await Promise.all([upstream?.close(), redis?.stop()]);
});

async function gateway(prefix: string, refuseAfterMs: string): Promise<RunningGateway> {
  const config = loadGatewayConfig({
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    NO_WORKERS_REFUSE_AFTER_MS: refuseAfterMs,
    PORT: '0',
    HOST: '127.0.0.1',
    STATS_INTERVAL_SECONDS: '0',
  });
  const running = await startGateway(config, createLogger({ name: 'gateway', level: 'silent' }));
  started.push(running);
  return running;
}

async function worker(prefix: string): Promise<AppProcess> {
  const running = await startApp('worker', {
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    WORKER_PROCESSES: '1',
  });
  workers.push(running);
  return running;
}

const ready = async (url: string) => {
  const response = await fetch(`${url}/ready`);
  return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
};

const workersGauge = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /^openai_proxy_workers_alive (\d+)$/m.exec(text)?.[1];
};

describe('with no worker running', () => {
  it('a gateway that never saw a worker refuses new requests, and the ones it queued, once NO_WORKERS_REFUSE_AFTER_MS has passed since it started', async () => {
    const gw = await gateway('{nw1}', '1500');
    expect(await workersGauge(gw.url)).toBe('0');
    // While the gateway is new, workers may still be starting: ready, and requests are queued.
    expect(await ready(gw.url)).toMatchObject({ status: 200, body: { checks: { workers: 'ok' } } });
    const queued = postJson(`${gw.url}/v1/chat/completions`, chatBody('queued early'));
    // Nobody came: the queued request is refused too, not left to wait for its deadline.
    const early = await queued;
    expect(early.status).toBe(503);
    expect(early.json.error?.code).toBe('no_workers');
    expect(early.headers.get('retry-after')).toBe('5');
    expect(await ready(gw.url)).toMatchObject({ status: 503, body: { checks: { workers: 'no_workers' } } });
    const refused = await postJson(`${gw.url}/v1/chat/completions`, chatBody('too late'));
    expect(refused.status).toBe(503);
    expect(refused.json.error?.code).toBe('no_workers');
    expect(refused.headers.get('retry-after')).toBe('5');

    // Its job left the queue with it: a worker that comes now runs nothing for nobody.
    await worker('{nw1}');
    await eventually(async () => (await ready(gw.url)).status === 200);
    expect(await workersGauge(gw.url)).toBe('1');
    expect((await postJson(`${gw.url}/v1/chat/completions`, chatBody('served'))).status).toBe(200);
    expect(
      upstream.requests.filter((request) => JSON.stringify(request.body).includes('queued early')),
    ).toEqual([]);
  });

  it('once a worker was seen, the jobs queued during a gap in the farm wait for the next one', async () => {
    const gw = await gateway('{nw3}', '1500');
    const first = await worker('{nw3}');
    await eventually(async () => (await workersGauge(gw.url)) === '1');
    expect((await postJson(`${gw.url}/v1/chat/completions`, chatBody('before the gap'))).status).toBe(200);
    await first.stop();
    const queued = postJson(`${gw.url}/v1/chat/completions`, chatBody('queued in the gap'));
    await eventually(async () => (await ready(gw.url)).status === 503);
    const refused = await postJson(`${gw.url}/v1/chat/completions`, chatBody('refused in the gap'));
    expect(refused.json.error?.code).toBe('no_workers');
    await worker('{nw3}');
    const answer = await queued;
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('queued in the gap');
  });

  it('waits for a worker, as before, when the check is off', async () => {
    const gw = await gateway('{nw2}', '0');
    expect(await ready(gw.url)).toMatchObject({ status: 200 });
    expect((await ready(gw.url)).body.checks.workers).toBeUndefined();
    const pending = postJson(`${gw.url}/v1/chat/completions`, chatBody('scale from zero'));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await worker('{nw2}');
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('scale from zero');
  });
});

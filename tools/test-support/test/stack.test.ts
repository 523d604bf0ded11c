import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../src/index.js';

// The stack's own parts are real (redis-server, mock upstream, gateways, a worker farm); what is
// checked is that each is wired to the others and that stop() leaves nothing running.

const startAll = () =>
  startStack({
    redis: true,
    upstreams: ['only'],
    env: { QUEUE_PREFIX: `{stack-${process.pid}}` },
    gateways: {
      queued: { run: 'in-process' },
      standalone: { run: 'in-process', standalone: true },
      spawned: { run: 'process' },
    },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });

let stack: Awaited<ReturnType<typeof startAll>>;
beforeAll(async () => {
  stack = await startAll();
});
afterAll(async () => {
  await stack?.stop();
});

const ask = (url: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (response) => ({ status: response.status, body: (await response.json()) as unknown }));

const health = async (url: string) =>
  ((await (await fetch(`${url}/health`)).json()) as { mode: string }).mode;

describe('startStack', () => {
  it('wires every gateway to the upstream and the queued ones to the worker through Redis', async () => {
    const { queued, standalone, spawned } = stack.gateways;
    expect([await health(queued.url), await health(standalone.url), await health(spawned.url)]).toEqual([
      'queue',
      'standalone',
      'queue',
    ]);
    for (const gateway of [queued, standalone, spawned])
      expect(await ask(gateway.url)).toMatchObject({
        status: 200,
        body: { choices: [{ message: { content: 'echo: hi' } }] },
      });
    expect(stack.upstreams.only.stats.requests).toBe(3);
    expect(await stack.workers.farm.waitForOutput('"msg":"job"')).toContain('"outcome":"success"');
  });

  it('keeps an in-process gateway’s log lines as a process would print them', async () => {
    const line = await stack.gateways.queued.waitForOutput('gateway listening');
    expect(JSON.parse(line)).toMatchObject({ app: 'gateway', msg: 'gateway listening (queue mode)' });
  });

  it('starts more gateways on request, with the stack’s environment under their own', async () => {
    const extra = await stack.addGateway({
      run: 'in-process',
      standalone: true,
      env: { RATE_LIMIT_REQUESTS: '1' },
    });
    expect((await fetch(`${extra.url}/v1/models`)).status).toBe(200);
    expect((await fetch(`${extra.url}/v1/models`)).status).toBe(429);
    expect(stack.env({ X: '1' }, { standalone: true })).toEqual({
      UPSTREAM_API_URL: stack.upstreams.only.chatUrl,
      QUEUE_PREFIX: `{stack-${process.pid}}`,
      X: '1',
    });
  });
});

describe('stop()', () => {
  it('closes everything it started, and closing twice is harmless', async () => {
    const own: Stack<'one', { in: { run: 'in-process' } }, 'farm'> = await startStack({
      redis: true,
      upstreams: ['one'],
      env: { QUEUE_PREFIX: `{stack-stop-${process.pid}}` },
      gateways: { in: { run: 'in-process' } },
      workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
    });
    const urls = [own.gateways.in.url, own.upstreams.one.url, own.workers.farm.url];
    await Promise.all([own.stop(), own.stop()]);
    expect(own.workers.farm.exited()).toBe(true);
    expect(own.redis.process.exited()).toBe(true);
    for (const url of urls) await expect(fetch(url)).rejects.toThrow();
  });

  it('a stack without Redis says so when asked for it', async () => {
    const bare = await startStack({ upstreams: ['solo'] });
    try {
      expect(() => bare.redis).toThrow('without Redis');
    } finally {
      await bare.stop();
    }
  });
});

import type { MockUpstream } from '@openai-proxy/mock-upstream';
import {
  type AppProcess,
  runAppToExit,
  type Stack,
  startStack,
  type TestRedis,
} from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 2: the whole path with real processes — gateway and worker farm from their compiled JS,
// the suite's own redis-server, a streaming-only mock provider, the official SDK as client.

let stack: Stack;
let redis: TestRedis;
let upstreamA: MockUpstream;
let upstreamB: MockUpstream;
let queueGateway: AppProcess;
let worker: AppProcess;
let standaloneGateway: AppProcess;
const prefix = `{test-${process.pid}-foundation}`;

beforeAll(async () => {
  const started = await startStack({
    redis: true,
    upstreams: ['a', 'b'],
    env: { QUEUE_PREFIX: prefix },
    gateways: { queue: { run: 'process' }, standalone: { run: 'process', standalone: true } },
    workers: { farm: { env: { WORKER_PROCESSES: '2', WORKER_CONCURRENCY: '8' } } },
  });
  stack = started;
  redis = started.redis;
  ({ a: upstreamA, b: upstreamB } = started.upstreams);
  ({ queue: queueGateway, standalone: standaloneGateway } = started.gateways);
  worker = started.workers.farm;
  await worker.waitForOutput(/worker ready[\s\S]*/);
});

afterAll(() => stack?.stop());

const client = (gateway: AppProcess) =>
  new OpenAI({ apiKey: 'sk-test-client', baseURL: `${gateway.url}/v1`, maxRetries: 0 });

describe('queue mode: gateway → BullMQ → worker → pub/sub', () => {
  it('answers a non-stream request with the folded chat.completion (official SDK as client)', async () => {
    const completion = await client(queueGateway).chat.completions.create({
      model: 'mock-model',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('mock-model');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]?.message.role).toBe('assistant');
    expect(completion.choices[0]?.message.content).toBe('echo: hello there');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ completion_tokens: 3, total_tokens: expect.any(Number) });
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('asked the upstream for a stream with usage, and passed the client key on', async () => {
    await client(queueGateway).chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
    });
    const last = [...upstreamA.requests, ...upstreamB.requests].find(
      (record) => (record.body as { messages?: { content: string }[] }).messages?.[0]?.content === 'x',
    );
    expect(last?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(last?.headers.authorization).toBe('Bearer sk-test-client');
  });

  it('reports mode and pid on /health', async () => {
    const health = (await (await fetch(`${queueGateway.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toEqual({
      status: 'ok',
      pid: queueGateway.child.pid,
      mode: 'queue',
      upstreams: { total: 2, healthy: 2, coolingDown: 0 },
    });
  });
});

describe('stream: true', () => {
  it('returns the upstream SSE bytes unchanged', async () => {
    const sse = `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"h\u00e9llo \u{1F600}"},"finish_reason":null}]}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n`;
    for (const upstream of [upstreamA, upstreamB])
      upstream.setDefault({ kind: 'replay', sse, sliceBytes: 3 });
    try {
      const response = await fetch(`${queueGateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(sse))).toBe(true);
    } finally {
      for (const upstream of [upstreamA, upstreamB]) upstream.setDefault({ kind: 'echo' });
    }
  });
});

describe('standalone mode (no REDIS_URL)', () => {
  it('says so on /health and in its log', async () => {
    const health = (await (await fetch(`${standaloneGateway.url}/health`)).json()) as Record<string, unknown>;
    expect(health.mode).toBe('standalone');
    expect(standaloneGateway.output.some((line) => line.includes('standalone mode'))).toBe(true);
  });

  it('returns the same folded answer as queue mode, byte for byte', async () => {
    const body = JSON.stringify({
      model: 'same',
      messages: [{ role: 'user', content: 'identical answers' }],
      n: 2,
    });
    const post = (gateway: AppProcess) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then(async (response) => ({ status: response.status, text: await response.text() }));
    const [queued, standalone] = await Promise.all([post(queueGateway), post(standaloneGateway)]);
    expect(queued.status).toBe(200);
    expect(standalone.status).toBe(200);
    // The mock's ids and timestamps differ per request; everything else must match exactly.
    const normalise = (text: string) =>
      text.replace(/"id":"[^"]*"/, '"id":"X"').replace(/"created":\d+/, '"created":0');
    expect(normalise(queued.text)).toBe(normalise(standalone.text));
    expect(JSON.parse(queued.text).choices).toHaveLength(2);
  });
});

describe('several upstreams', () => {
  it('spreads requests over both upstreams', async () => {
    const beforeA = upstreamA.stats.requests;
    const beforeB = upstreamB.stats.requests;
    const openai = client(standaloneGateway);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `r${i}` }] }),
      ),
    );
    expect(upstreamA.stats.requests - beforeA).toBeGreaterThan(0);
    expect(upstreamB.stats.requests - beforeB).toBeGreaterThan(0);
    expect(upstreamA.stats.requests - beforeA + upstreamB.stats.requests - beforeB).toBe(30);
  });

  it('succeeds for every request while one of two upstreams is down', async () => {
    upstreamB.setDefault({ kind: 'status', status: 503 });
    try {
      for (const gateway of [standaloneGateway, queueGateway]) {
        const openai = client(gateway);
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            openai.chat.completions.create({
              model: 'm',
              messages: [{ role: 'user', content: `down ${i}` }],
            }),
          ),
        );
        for (const [i, answer] of answers.entries())
          expect(answer.choices[0]?.message.content).toBe(`echo: down ${i}`);
      }
    } finally {
      upstreamB.setDefault({ kind: 'echo' });
    }
  });
});

describe('start-up configuration', () => {
  it('stops with a message naming UPSTREAM_API_URL when it is missing', async () => {
    const { code, output } = await runAppToExit('gateway', { PORT: '0' });
    expect(code).toBe(1);
    expect(output).toContain('UPSTREAM_API_URL');
    expect(output).toContain('is required');
  });

  it('stops with a message naming the bad URL when UPSTREAM_API_URL is malformed', async () => {
    const { code, output } = await runAppToExit('worker', {
      UPSTREAM_API_URL: 'http://ok.example/v1/chat/completions,not a url',
      REDIS_URL: redis.url,
    });
    expect(code).toBe(1);
    expect(output).toContain('UPSTREAM_API_URL');
    expect(output).toContain('"not a url" is not an http(s) URL');
  });
});

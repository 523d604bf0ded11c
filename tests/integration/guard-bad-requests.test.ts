import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { badRequests, CORPUS_LIMITS } from './fixtures/bad-requests.js';
import { rawRequest } from './fixtures/raw-http.js';

// Issue 5: every request in the corpus gets its documented 4xx from a real gateway (Express and
// Node's HTTP server, in the test's process), in queue mode (no worker runs, so a job that got
// through would stay waiting) and in standalone mode; none reaches the upstream or the queue;
// both keep serving afterwards.

let stack: Stack;
let upstream: MockUpstream;
let queueGateway: InProcessGateway;
let standaloneGateway: InProcessGateway;
let redisClient: Redis;
let queue: Queue;
const prefix = `{test-${process.pid}-guard-bad}`;

beforeAll(async () => {
  const started = await startStack({
    redis: true,
    upstreams: ['guarded'],
    env: {
      QUEUE_PREFIX: prefix,
      MAX_BODY_BYTES: String(CORPUS_LIMITS.MAX_BODY_BYTES),
      MAX_JSON_DEPTH: String(CORPUS_LIMITS.MAX_JSON_DEPTH),
      MAX_HEADER_BYTES: String(CORPUS_LIMITS.MAX_HEADER_BYTES),
      CLIENT_HEADERS_TIMEOUT_MS: '1000',
      CLIENT_REQUEST_TIMEOUT_MS: '2000',
    },
    gateways: { queue: { run: 'in-process' }, standalone: { run: 'in-process', standalone: true } },
  });
  stack = started;
  upstream = started.upstreams.guarded;
  ({ queue: queueGateway, standalone: standaloneGateway } = started.gateways);
  redisClient = new Redis(started.redis.url, { maxRetriesPerRequest: null });
  queue = new Queue('completions', { connection: redisClient, prefix });
});

afterAll(async () => {
  await queue?.close();
  redisClient?.disconnect();
  await stack?.stop();
});

/** The `openai_proxy_rejected_requests_total` samples summed over reasons. */
async function rejectedTotal(gateway: InProcessGateway): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('openai_proxy_rejected_requests_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

it('has a corpus of at least 30 bad requests', () => {
  expect(badRequests.length).toBeGreaterThanOrEqual(30);
  expect(new Set(badRequests.map((bad) => bad.name)).size).toBe(badRequests.length);
});

describe.each([
  ['queue mode', () => queueGateway],
  ['standalone mode', () => standaloneGateway],
])('%s', (_mode, gateway) => {
  it.each(badRequests)('refuses $name with $status $code', async (bad) => {
    const answer = await rawRequest(gateway().url, bad.request);
    expect({
      status: answer.status,
      code: answer.json?.error?.code,
      param: answer.json?.error?.param,
    }).toEqual({
      status: bad.status,
      code: bad.code,
      param: bad.param,
    });
    expect(answer.json?.error?.type).toEqual(expect.any(String));
    expect(answer.json?.error?.message).toEqual(expect.any(String));
  });

  it('counted each refusal once in openai_proxy_rejected_requests_total', async () => {
    expect(await rejectedTotal(gateway())).toBe(badRequests.length);
  });

  it('cuts off a client that never finishes its request head (408)', async () => {
    const answer = await rawRequest(gateway().url, {
      raw: 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n',
    });
    expect(answer.status).toBe(408);
    expect(answer.json?.error?.code).toBe('request_timeout');
  });

  it('cuts off a client that never finishes its body (408)', async () => {
    const answer = await rawRequest(gateway().url, {
      body: '{"model":"m",',
      headers: { 'content-type': 'application/json', 'content-length': '500' },
    });
    expect(answer.status).toBe(408);
    expect(answer.json?.error?.code).toBe('request_timeout');
  });
});

describe('after the corpus', () => {
  it('sent nothing to the upstream', () => {
    expect(upstream.stats.requests).toBe(0);
  });

  it('queued nothing', async () => {
    const counts = await queue.getJobCounts();
    expect(Object.values(counts).reduce((sum, count) => sum + count, 0)).toBe(0);
    // BullMQ keeps a `meta` key per queue; any job, waiting or removed, would leave others.
    const keys = await redisClient.keys(`${prefix}:completions:*`);
    expect(keys.filter((key) => !key.endsWith(':meta'))).toEqual([]);
  });

  it('both gateways are still listening and serve a valid request', async () => {
    for (const gateway of [queueGateway, standaloneGateway]) {
      expect(gateway.server.listening).toBe(true);
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'm',
          stream: true,
          messages: [{ role: 'user', content: 'still here' }],
        }),
      });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('data: [DONE]');
    }
    expect(upstream.stats.requests).toBe(2);
  });

  it('accepts unknown fields and a body exactly at the size limit', async () => {
    const base = {
      model: 'm',
      stream: true,
      messages: [{ role: 'user', content: '' }],
      x_vendor_extra: { a: [1] },
    };
    const padding = CORPUS_LIMITS.MAX_BODY_BYTES - Buffer.byteLength(JSON.stringify(base));
    const body = JSON.stringify({ ...base, messages: [{ role: 'user', content: 'z'.repeat(padding) }] });
    expect(Buffer.byteLength(body)).toBe(CORPUS_LIMITS.MAX_BODY_BYTES);
    const answer = await rawRequest(standaloneGateway.url, {
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(200);
    const seen = upstream.requests.at(-1)?.body as Record<string, unknown>;
    expect(seen.x_vendor_extra).toEqual({ a: [1] });
  });
});

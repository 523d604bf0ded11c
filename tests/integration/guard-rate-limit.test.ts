import { createHash } from 'node:crypto';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 5: one allowance per client, shared by every gateway replica through Redis; in memory
// when standalone. Counted before the body is read or an upstream is picked. Pure HTTP: the
// gateways run in the test's process.

const LIMIT = 5;
let stack: Stack;
let upstream: MockUpstream;
let replicaA: InProcessGateway;
let replicaB: InProcessGateway;
let standalone: InProcessGateway;
let redisClient: Redis;
const prefix = `{test-${process.pid}-guard-rate}`;

beforeAll(async () => {
  const started = await startStack({
    redis: true,
    upstreams: ['limited'],
    // A window far longer than the test, so no allowance starts over while it runs.
    env: { RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: '3600' },
    gateways: {
      replicaA: { run: 'in-process', env: { QUEUE_PREFIX: prefix } },
      replicaB: { run: 'in-process', env: { QUEUE_PREFIX: prefix } },
      standalone: { run: 'in-process', standalone: true, env: { RATE_LIMIT_REQUESTS: '3' } },
    },
  });
  stack = started;
  upstream = started.upstreams.limited;
  ({ replicaA, replicaB, standalone } = started.gateways);
  redisClient = new Redis(started.redis.url);
  await Promise.all([untilCountingInRedis(replicaA, 'a'), untilCountingInRedis(replicaB, 'b')]);
});

/**
 * A gateway listens before its rate limiter's own Redis connection is up, and counts in memory
 * until it is: what is tested here is replicas that are up sharing one allowance, so each one is
 * asked, under keys of its own, until a request of it is counted in Redis.
 */
async function untilCountingInRedis(replica: InProcessGateway, name: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const key = `warm-up-${name}-${attempt}`;
    await (await models(replica, key)).arrayBuffer();
    const digest = createHash('sha256').update(key).digest('hex');
    if ((await redisClient.exists(`${prefix}:ratelimit:key:${digest}`)) === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${replica.url} never counted a request in Redis`);
}

afterAll(async () => {
  redisClient?.disconnect();
  await stack?.stop();
});

const models = (gateway: InProcessGateway, key?: string) =>
  fetch(`${gateway.url}/v1/models`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });

/** `count` requests at once, alternating between the replicas. */
const burst = (count: number, key?: string) =>
  Promise.all(Array.from({ length: count }, (_, i) => models(i % 2 === 0 ? replicaA : replicaB, key)));

describe('two gateway replicas sharing one Redis', () => {
  const key = 'sk-client-rate-alpha-7f3e';

  it('accept exactly the limit between them, however the requests are spread', async () => {
    const before = upstream.stats.requests;
    const answers = await burst(12, key);
    const accepted = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(accepted).toHaveLength(LIMIT);
    expect(refused).toHaveLength(12 - LIMIT);
    expect(upstream.stats.requests - before).toBe(LIMIT);
    // One counter: the accepted answers saw every remaining count from LIMIT-1 down to 0 once.
    const remaining = accepted.map((answer) => Number(answer.headers.get('x-ratelimit-remaining')));
    expect(remaining.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
  });

  it('answer 429 in OpenAI shape with Retry-After and x-ratelimit-* headers', async () => {
    const response = await models(replicaB, key);
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.headers.get('x-ratelimit-limit')).toBe(String(LIMIT));
    expect(response.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(response.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null });
  });

  it('give the official SDK a RateLimitError', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${replicaA.url}/v1`, maxRetries: 0 });
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('keep a separate allowance per key', async () => {
    const answers = await burst(LIMIT, 'sk-client-rate-beta-91c2');
    expect(answers.map((answer) => answer.status)).toEqual(Array(LIMIT).fill(200));
  });

  it('count clients without a key by IP', async () => {
    const answers = await burst(LIMIT + 2);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(LIMIT);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(2);
  });

  it('store a digest of the key in Redis, never the key', async () => {
    const keys = await redisClient.keys(`${prefix}:ratelimit:*`);
    const digest = createHash('sha256').update(key).digest('hex');
    expect(keys).toContain(`${prefix}:ratelimit:key:${digest}`);
    expect(keys.some((name) => name.includes('sk-client'))).toBe(false);
  });

  it('leave health and metrics unlimited', async () => {
    for (let i = 0; i < LIMIT + 1; i += 1) expect((await fetch(`${replicaA.url}/health`)).status).toBe(200);
  });
});

describe('a standalone gateway', () => {
  it('limits in its own memory', async () => {
    const statuses = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await models(standalone, 'sk-client-solo')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});

import { loadGatewayConfig, type RunningGateway, startGateway } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { createLogger } from '@openai-proxy/shared';
import { startRedis, type TestRedis } from '@openai-proxy/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// One client cannot hold the whole queue: with KEY_MAX_QUEUED, a key past its share of queued or
// running requests gets a quick 429 while another key's requests still go in, and its place comes
// back as soon as one of its requests ends. Two gateway replicas share the count through Redis.
// No worker runs, so every admitted request stays queued until its client leaves.

const PREFIX = `{test-${process.pid}-key-share}`;
const SHARE = 3;

let redis: TestRedis;
let upstream: MockUpstream;
let replicas: RunningGateway[] = [];
const leaving: AbortController[] = [];
const pending: Promise<unknown>[] = [];

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'key-share' })]);
  const config = loadGatewayConfig({
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    GATEWAY_API_KEYS: 'key-flood,key-calm',
    KEY_MAX_QUEUED: String(SHARE),
    NO_WORKERS_REFUSE_AFTER_MS: '0',
    PORT: '0',
    HOST: '127.0.0.1',
    STATS_INTERVAL_SECONDS: '0',
  });
  const logger = createLogger({ name: 'gateway', level: 'silent' });
  replicas = await Promise.all([startGateway(config, logger), startGateway(config, logger)]);
});

afterAll(async () => {
  for (const controller of leaving) controller.abort();
  await Promise.allSettled(pending);
  await Promise.all(replicas.map((gateway) => gateway.close()));
  await Promise.all([upstream?.close(), redis?.stop()]);
});

/** A request that stays queued (no worker) until the test lets it go. */
function held(replica: RunningGateway, key: string, content: string) {
  const controller = new AbortController();
  leaving.push(controller);
  const answer = postJson(
    `${replica.url}/v1/chat/completions`,
    chatBody(content),
    { authorization: `Bearer ${key}` },
    controller.signal,
  ).catch(() => 'left' as const);
  pending.push(answer);
  return { controller, answer };
}

/** Whether a request is still waiting after `ms`: admitted and queued, not refused. */
async function stillWaiting(answer: Promise<unknown>, ms = 300): Promise<boolean> {
  const timedOut = Symbol('waiting');
  const first = await Promise.race([
    answer,
    new Promise((resolve) => setTimeout(() => resolve(timedOut), ms)),
  ]);
  return first === timedOut;
}

it('refuses a key past its share across replicas while another key keeps its turn', async () => {
  const store = new Redis(redis.url);
  try {
    const flood = [0, 1, 2].map((i) => held(replicas[i % 2] as RunningGateway, 'key-flood', `flood ${i}`));
    await eventually(async () => (await store.llen(`${PREFIX}:completions:wait`)) === SHARE);

    const refused = await postJson(`${replicas[1]?.url}/v1/chat/completions`, chatBody('one more'), {
      authorization: 'Bearer key-flood',
    });
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    expect(refused.json.error?.message).toContain('KEY_MAX_QUEUED');
    expect(refused.headers.get('retry-after')).toBe('1');

    const calm = held(replicas[0] as RunningGateway, 'key-calm', 'calm');
    expect(await stillWaiting(calm.answer)).toBe(true);
    expect(await store.llen(`${PREFIX}:completions:wait`)).toBe(SHARE + 1);

    // One of the flood's requests ends (its client leaves): its place is the key's again.
    flood[0]?.controller.abort();
    await flood[0]?.answer;
    await eventually(async () => (await store.llen(`${PREFIX}:completions:wait`)) === SHARE);
    const again = held(replicas[1] as RunningGateway, 'key-flood', 'flood again');
    expect(await stillWaiting(again.answer)).toBe(true);
    expect(upstream.stats.requests).toBe(0);
  } finally {
    store.disconnect();
  }
});

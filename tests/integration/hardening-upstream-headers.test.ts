import { loadGatewayConfig, type RunningGateway, startGateway } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { createLogger } from '@openai-proxy/shared';
import { type AppProcess, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import OpenAI, { RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postJson } from './support/http.js';

// What the upstream said reaches non-stream clients too: a rate-limited upstream's Retry-After
// and x-ratelimit-* headers come back through the fold (standalone) and through the job
// result (queue mode), as they do on a relayed stream, so the SDKs' retry logic can read them.

const LIMITED = {
  kind: 'status',
  status: 429,
  headers: {
    'retry-after': '7',
    'x-ratelimit-limit-requests': '60',
    'x-ratelimit-remaining-requests': '0',
    'x-ratelimit-reset-requests': '7s',
    'x-request-id': 'upstream-own-id',
  },
} as const;

let redis: TestRedis;
let upstream: MockUpstream;
let worker: AppProcess;
const gateways: Record<'queue' | 'standalone', RunningGateway> = {} as never;

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'limited' })]);
  const base = {
    UPSTREAM_API_URL: upstream.chatUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    STATS_INTERVAL_SECONDS: '0',
  };
  const logger = createLogger({ name: 'gateway', level: 'silent' });
  gateways.queue = await startGateway(loadGatewayConfig({ ...base, REDIS_URL: redis.url }), logger);
  gateways.standalone = await startGateway(loadGatewayConfig(base), logger);
  worker = await startApp('worker', {
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_URL: redis.url,
    WORKER_PROCESSES: '1',
  });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all(Object.values(gateways).map((gateway) => gateway.close()));
  await Promise.all([upstream?.close(), redis?.stop()]);
});

describe.each(['queue', 'standalone'] as const)('%s mode, stream: false', (mode) => {
  it('relays the upstream 429 with its Retry-After and rate-limit headers', async () => {
    upstream.enqueue(LIMITED);
    const answer = await postJson(`${gateways[mode].url}/v1/chat/completions`, chatBody('limited'));
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBe('7');
    expect(answer.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(answer.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(answer.headers.get('x-ratelimit-reset-requests')).toBe('7s');
    // The proxy's own request id names the request, not the upstream's.
    expect(answer.headers.get('x-request-id')).not.toBe('upstream-own-id');
  });

  it('gives the official SDK a RateLimitError whose headers carry the wait', async () => {
    upstream.enqueue(LIMITED);
    const client = new OpenAI({ baseURL: `${gateways[mode].url}/v1`, apiKey: 'k', maxRetries: 0 });
    const error = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'sdk' }] })
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).headers.get('retry-after')).toBe('7');
  });
});

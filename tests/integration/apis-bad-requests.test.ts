import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messagesBadRequests } from './fixtures/bad-requests.js';
import { rawRequest } from './fixtures/raw-http.js';

// The /v1/messages part of the bad-request corpus, from real gateway processes in queue mode (no
// worker runs, so a job that got through would stay waiting) and standalone: each refusal in
// Anthropic's shape, with the documented status, naming the field; none reaches the upstream.
// (The /v1/responses cases answer in OpenAI's shape and run with the rest of the corpus.)

let redis: TestRedis;
let upstream: MockUpstream;
let queueGateway: AppProcess;
let standaloneGateway: AppProcess;

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'guarded' })]);
  const env = { UPSTREAM_API_URL: upstream.chatUrl, QUEUE_PREFIX: `{apis-bad-${process.pid}}` };
  [queueGateway, standaloneGateway] = await Promise.all([
    startApp('gateway', { ...env, REDIS_URL: redis.url }),
    startApp('gateway', env),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([queueGateway?.stop(), standaloneGateway?.stop()]);
  await Promise.all([upstream?.close(), redis?.stop()]);
});

describe.each([
  ['queue mode', () => queueGateway],
  ['standalone mode', () => standaloneGateway],
])('%s', (_mode, gateway) => {
  it.each(messagesBadRequests)('refuses $name with $status in Anthropic shape', async (bad) => {
    const answer = await rawRequest(gateway().url, bad.request);
    expect(answer.status).toBe(bad.status);
    const body = JSON.parse(answer.body) as { type: string; error: { type: string; message: string } };
    expect(Object.keys(body)).toEqual(['type', 'error']);
    expect(body.type).toBe('error');
    expect(Object.keys(body.error)).toEqual(['type', 'message']);
    expect(body.error.type).toBe('invalid_request_error');
    if (bad.param !== null) expect(body.error.message).toContain(`'${bad.param}'`);
  });
});

it('let none of them reach the upstream', () => {
  expect(upstream.stats.requests).toBe(0);
});

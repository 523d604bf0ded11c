import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  type InProcessGateway,
  startInProcessGateway,
  startRedis,
  type TestRedis,
} from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postJson } from './support/http.js';

// A client that says how long it will wait (X-Stainless-Timeout, which OpenAI's SDKs send for a
// per-request timeout) is
// answered by then, even when NONSTREAM_KEEPALIVE_MS has sent the 200 early and so ended the
// SDK's own timer: the proxy ends the request at the client's deadline, with the error in the
// body. REQUEST_TIMEOUT_MS is far longer, so only the client's deadline can end these requests
// within the test's time. The 504's message names the timeout that expired: the client's own
// when it set the deadline, REQUEST_TIMEOUT_MS otherwise. In-process gateways (one in queue mode,
// with no worker, so its job waits out the deadline in Redis); the upstream hangs before its
// status line.

let upstream: MockUpstream;
let keepalive: InProcessGateway;
let plain: InProcessGateway;
let queued: InProcessGateway;
let shortProxyTimeout: InProcessGateway;
let redis: TestRedis;

const CLIENT_TIMEOUT_MESSAGE = /^Your client's own timeout of 2 s \(X-Stainless-Timeout\) expired/;

const gateway = (extra: Record<string, string>) =>
  startInProcessGateway({
    UPSTREAM_API_URL: upstream.chatUrl,
    REQUEST_TIMEOUT_MS: '120000',
    UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '120000',
    ...extra,
  });

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'hanging', defaultBehavior: { kind: 'hang' } });
  redis = await startRedis();
  keepalive = await gateway({ NONSTREAM_KEEPALIVE_MS: '200' });
  plain = await gateway({});
  queued = await gateway({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `{test-${process.pid}-deadlines}`,
    NO_WORKERS_REFUSE_AFTER_MS: '0',
  });
  shortProxyTimeout = await gateway({ REQUEST_TIMEOUT_MS: '1500' });
});

afterAll(async () => {
  await Promise.all([keepalive?.stop(), plain?.stop(), queued?.stop(), shortProxyTimeout?.stop()]);
  await Promise.all([upstream?.close(), redis?.stop()]);
});

describe('a client deadline shorter than REQUEST_TIMEOUT_MS', () => {
  it('ends an SDK call with keep-alive on at the SDK’s timeout, the error in the 200 body', async () => {
    const client = new OpenAI({ baseURL: `${keepalive.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const started = Date.now();
    const { data, response } = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hangs' }] }, { timeout: 3000 })
      .withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-openai-proxy-keepalive')).toBe('true');
    const { error } = data as unknown as { error: { code: string; message: string } };
    expect(error.code).toBe('deadline_exceeded');
    expect(error.message).toMatch(/^Your client's own timeout of 3 s \(X-Stainless-Timeout\) expired/);
    expect(Date.now() - started).toBeLessThan(60_000);
    await upstream.waitForAborted(1);
  });

  it('is a 504 deadline_exceeded without keep-alive', async () => {
    const answer = await postJson(`${plain.url}/v1/chat/completions`, chatBody('hangs'), {
      'x-stainless-timeout': '2',
    });
    expect(answer.status).toBe(504);
    expect(answer.json.error?.code).toBe('deadline_exceeded');
    expect(answer.json.error?.message).toMatch(CLIENT_TIMEOUT_MESSAGE);
  });

  it('names the client’s timeout in queue mode too, and in Anthropic’s shape on /v1/messages', async () => {
    const chat = await postJson(`${queued.url}/v1/chat/completions`, chatBody('queued'), {
      'x-stainless-timeout': '2',
    });
    expect(chat.status).toBe(504);
    expect(chat.json.error).toMatchObject({
      code: 'deadline_exceeded',
      message: expect.stringMatching(CLIENT_TIMEOUT_MESSAGE),
    });
    const messages = await postJson(
      `${plain.url}/v1/messages`,
      { model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hangs' }] },
      { 'x-stainless-timeout': '2' },
    );
    expect(messages.status).toBe(504);
    expect(messages.json).toMatchObject({
      type: 'error',
      error: { type: 'timeout_error', message: expect.stringMatching(CLIENT_TIMEOUT_MESSAGE) },
    });
  });
});

describe('a client deadline longer than REQUEST_TIMEOUT_MS', () => {
  it('ends at REQUEST_TIMEOUT_MS, and the message names that setting', async () => {
    const answer = await postJson(`${shortProxyTimeout.url}/v1/chat/completions`, chatBody('hangs'), {
      'x-stainless-timeout': '600',
    });
    expect(answer.status).toBe(504);
    expect(answer.json.error?.message).toBe(
      'The request timeout (REQUEST_TIMEOUT_MS), 1500 ms, expired before the answer was complete.',
    );
  });
});

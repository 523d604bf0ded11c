import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, startInProcessGateway } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postJson } from './support/http.js';

// A client that says how long it will wait (X-Stainless-Timeout, which OpenAI's SDKs send for a
// per-request timeout) is
// answered by then, even when NONSTREAM_KEEPALIVE_MS has sent the 200 early and so ended the
// SDK's own timer: the proxy ends the request at the client's deadline, with the error in the
// body. REQUEST_TIMEOUT_MS is far longer, so only the client's deadline can end these requests
// within the test's time. In-process gateways; the upstream hangs before its status line.

let upstream: MockUpstream;
let keepalive: InProcessGateway;
let plain: InProcessGateway;

const gateway = (extra: Record<string, string>) =>
  startInProcessGateway({
    UPSTREAM_API_URL: upstream.chatUrl,
    REQUEST_TIMEOUT_MS: '120000',
    UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '120000',
    ...extra,
  });

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'hanging', defaultBehavior: { kind: 'hang' } });
  keepalive = await gateway({ NONSTREAM_KEEPALIVE_MS: '200' });
  plain = await gateway({});
});

afterAll(async () => {
  await Promise.all([keepalive?.stop(), plain?.stop()]);
  await upstream?.close();
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
    expect((data as unknown as { error: { code: string } }).error.code).toBe('deadline_exceeded');
    expect(Date.now() - started).toBeLessThan(60_000);
    await upstream.waitForAborted(1);
  });

  it('is a 504 deadline_exceeded without keep-alive', async () => {
    const answer = await postJson(`${plain.url}/v1/chat/completions`, chatBody('hangs'), {
      'x-stainless-timeout': '2',
    });
    expect(answer.status).toBe(504);
    expect(answer.json.error?.code).toBe('deadline_exceeded');
    expect(answer.json.error?.message).toContain('2000 ms');
  });
});

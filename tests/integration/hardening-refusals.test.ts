import { loadGatewayConfig, type RunningGateway, startGateway } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { createLogger } from '@openai-proxy/shared';
import { type AppProcess, startApp } from '@openai-proxy/test-support';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './fixtures/raw-http.js';

// Refusals a client can read: a body past MAX_BODY_BYTES is answered 413 before it is read, and
// the rest is read and thrown away (a lingering close) so that every kind of client, still
// writing, gets to read the answer instead of failing on a broken pipe. The race between the
// client's writes and the server's close only shows between two processes, so that gateway is a
// process. And one reading of a body: a UTF-8 byte-order mark is dropped on both paths (in-process).

const MB = 1024 * 1024;
let upstream: MockUpstream;
let gateway: RunningGateway;
let gatewayProcess: AppProcess;

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'refusals' });
  const config = loadGatewayConfig({
    UPSTREAM_API_URL: upstream.chatUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    STATS_INTERVAL_SECONDS: '0',
  });
  gateway = await startGateway(config, createLogger({ name: 'gateway', level: 'silent' }));
  gatewayProcess = await startApp('gateway', { UPSTREAM_API_URL: upstream.chatUrl });
});

afterAll(async () => {
  await gateway?.close();
  await gatewayProcess?.stop();
  await upstream?.close();
});

const chatOf = (bytes: number) =>
  JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(bytes) }] });

describe('a body past MAX_BODY_BYTES (10 MB by default)', () => {
  const sizes = [11 * MB, 16 * MB, 64 * MB];

  it.each(sizes)('reaches the official SDK as a 413 it can read, every time (%d bytes)', async (size) => {
    const client = new OpenAI({ baseURL: `${gatewayProcess.url}/v1`, apiKey: 'k', maxRetries: 0 });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const error = await client.chat.completions
        .create({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(size) }] })
        .then(
          () => undefined,
          (failure: unknown) => failure,
        );
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBe(413);
      expect((error as APIError).code).toBe('request_too_large');
    }
  });

  it.each(sizes)('reaches fetch as a 413 with an OpenAI-shaped body (%d bytes)', async (size) => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(`${gatewayProcess.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chatOf(size),
      });
      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    }
  });

  it.each(sizes)('reaches a raw HTTP/1.1 client that writes it all (%d bytes)', async (size) => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const answer = await rawRequest(gatewayProcess.url, {
        body: chatOf(size),
        headers: { 'content-type': 'application/json' },
      });
      expect(answer.status).toBe(413);
      expect(answer.json?.error?.code).toBe('request_too_large');
    }
  });

  it('reached no upstream', () => {
    expect(upstream.stats.requests).toBe(0);
  });
});

describe('a body that starts with a UTF-8 byte-order mark', () => {
  const withBom = (body: object) =>
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(body))]);
  const request = { model: 'm', messages: [{ role: 'user', content: 'bom' }] };

  it.each([false, true])('is accepted and forwarded without the mark (stream: %s)', async (stream) => {
    const before = upstream.stats.requests;
    const answer = await rawRequest(gateway.url, {
      body: withBom({ ...request, stream }),
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(200);
    if (stream) expect(answer.body).toContain('data: [DONE]');
    else expect(answer.json).toMatchObject({ object: 'chat.completion' });
    expect(upstream.stats.requests).toBe(before + 1);
    expect(upstream.requests.at(-1)?.body).toMatchObject({ model: 'm', stream: true });
  });
});

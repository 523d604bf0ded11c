import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, startInProcessGateway } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Browsers: CORS is opt-in with exact origins. A preflight is answered by the gateway without
// touching an upstream; an allowed origin may read answers and the headers SDKs look at; any
// other origin gets no CORS header, so the browser keeps the answer from it. In-process gateways.

const ALLOWED = 'https://app.example.com';
const REFUSED = 'https://evil.example.net';
let upstream: MockUpstream;
let withCors: InProcessGateway;
let withoutCors: InProcessGateway;

const gateway = (extra: Record<string, string>) =>
  startInProcessGateway({ UPSTREAM_API_URL: upstream.chatUrl, ...extra });

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'cors' });
  withCors = await gateway({ CORS_ORIGINS: `${ALLOWED}, https://other.example.org` });
  withoutCors = await gateway({});
});

afterAll(async () => {
  await Promise.all([withCors?.stop(), withoutCors?.stop()]);
  await upstream?.close();
});

const preflight = (url: string, origin: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, x-stainless-os',
    },
  });

const chat = (url: string, origin: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', authorization: 'Bearer k' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'from a browser' }] }),
  });

describe('with CORS_ORIGINS set', () => {
  it('answers an allowed origin’s preflight itself, without an upstream', async () => {
    const before = upstream.stats.requests;
    const response = await preflight(withCors.url, ALLOWED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')).toBe(
      'authorization, content-type, x-stainless-os',
    );
    expect(response.headers.get('vary')).toContain('Origin');
    expect(upstream.stats.requests).toBe(before);
  });

  it('lets an allowed origin read the answer and its request id', async () => {
    const response = await chat(withCors.url, ALLOWED);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-expose-headers')).toContain('x-request-id');
    expect(await response.text()).toContain('from a browser');
  });

  it('gives a refused origin no CORS header, on the preflight and on a request', async () => {
    const before = upstream.stats.requests;
    const refusedPreflight = await preflight(withCors.url, REFUSED);
    expect(refusedPreflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(upstream.stats.requests).toBe(before);
    const response = await chat(withCors.url, REFUSED);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('without CORS_ORIGINS', () => {
  it('sends no CORS header at all', async () => {
    const response = await chat(withoutCors.url, ALLOWED);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toBeNull();
  });
});

import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawRequest } from './fixtures/raw-http.js';

// Issue 5: only an allow-list of client headers travels upstream; hop-by-hop headers are
// dropped both ways; what else an upstream answers with reaches the client unchanged. Pure HTTP:
// the gateway runs in the test's process.

let stack: Stack;
let upstream: MockUpstream;
let gateway: InProcessGateway;

beforeAll(async () => {
  const started = await startStack({ upstreams: ['headers'], gateways: { main: { run: 'in-process' } } });
  stack = started;
  upstream = started.upstreams.headers;
  gateway = started.gateways.main;
});

afterAll(() => stack?.stop());

const streamBody = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'h' }] });

it('forwards the allow-listed client headers and nothing else', async () => {
  const answer = await rawRequest(gateway.url, {
    body: streamBody,
    headers: {
      'content-type': 'application/json',
      'openai-organization': 'org-1',
      'openai-project': 'proj-1',
      'openai-beta': 'assistants=v2',
      'user-agent': 'guard-test/1',
      cookie: 'session=abc',
      'x-internal-secret': 'do-not-forward',
      'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
      'x-forwarded-for': '10.0.0.1',
      'x-hop': 'named in connection',
      te: 'trailers',
      connection: 'close, x-hop',
    },
  });
  expect(answer.status).toBe(200);
  const seen = upstream.requests.at(-1)?.headers ?? {};
  expect(seen).toMatchObject({
    'openai-organization': 'org-1',
    'openai-project': 'proj-1',
    'openai-beta': 'assistants=v2',
    'user-agent': 'guard-test/1',
  });
  for (const name of ['cookie', 'x-internal-secret', 'proxy-authorization', 'x-forwarded-for', 'x-hop', 'te'])
    expect(seen[name], name).toBeUndefined();
});

it("drops the upstream's hop-by-hop headers and relays the rest", async () => {
  upstream.enqueue({
    kind: 'status',
    status: 200,
    body: 'data: [DONE]\n\n',
    headers: {
      'content-type': 'text/event-stream',
      'x-upstream-extra': 'kept',
      'openai-processing-ms': '12',
      'proxy-authenticate': 'Basic realm="upstream"',
      'keep-alive': 'timeout=1',
      upgrade: 'h2c',
    },
  });
  const answer = await rawRequest(gateway.url, {
    body: streamBody,
    headers: { 'content-type': 'application/json' },
  });
  expect(answer.status).toBe(200);
  expect(answer.body).toBe('data: [DONE]\n\n');
  expect(answer.headers).toMatchObject({ 'x-upstream-extra': 'kept', 'openai-processing-ms': '12' });
  for (const name of ['proxy-authenticate', 'keep-alive', 'upgrade'])
    expect(answer.headers[name], name).toBeUndefined();
});

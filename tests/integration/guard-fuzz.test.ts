import { Writable } from 'node:stream';
import { loadGatewayConfig, type RunningGateway, startGateway } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { createLogger } from '@openai-proxy/shared';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawRequest } from './fixtures/raw-http.js';

// No input from a client may make the proxy itself answer 5xx or log at error level, and
// nothing reaches an upstream unless the request could be valid. Requests are generated
// (methods, odd paths, headers, content types, bodies of every shape, truncated and binary) and
// sent byte for byte to an in-process gateway whose upstream is a healthy mock.

let upstream: MockUpstream;
let gateway: RunningGateway;
const errorLines: string[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'fuzzed' });
  const config = loadGatewayConfig({
    UPSTREAM_API_URL: upstream.chatUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    STATS_INTERVAL_SECONDS: '0',
    MAX_BODY_BYTES: '65536',
    MAX_JSON_DEPTH: '16',
  });
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() !== '' && (JSON.parse(line) as { level: number }).level >= 50) errorLines.push(line);
      }
      done();
    },
  });
  gateway = await startGateway(config, createLogger({ name: 'gateway', level: 'info', destination }));
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const segment = fc.oneof(
  fc.constantFrom(
    'chat',
    'completions',
    'models',
    'embeddings',
    '.',
    '..',
    '%2e',
    '%2E%2e',
    '%zz',
    '%',
    '%4',
    '%41',
  ),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((text) => encodeURIComponent(text)),
  fc.string({ unit: fc.constantFrom('a', '%', '/', '\\', '.', 'é', '~', '?', '='), maxLength: 20 }),
  fc.constant('x'.repeat(3000)),
);
const target = fc.oneof(
  fc.constantFrom('/v1/chat/completions', '/v1/completions', '/v1/models', '/health', '/ready', '/v2/x', '/'),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/v1/${parts.join('/')}`),
  fc.array(segment, { maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
);
const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
);
const validChat = fc.record({
  model: fc.constantFrom('m', 'gpt-x'),
  messages: fc.constant([{ role: 'user', content: 'fuzz' }]),
  stream: fc.constantFrom(true, false, null, undefined, 'yes', 1),
});
const jsonText = fc.oneof(
  validChat.map((body) => JSON.stringify(body)),
  fc.json({ maxDepth: 20 }),
  fc.json().map((text) => text.slice(0, Math.floor(text.length / 2))),
  fc.constant('['.repeat(40)),
);
const body = fc.oneof(
  fc.constant(undefined),
  jsonText.map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)),
  jsonText.map((text) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  target,
  contentType,
  encoding: fc.constantFrom(undefined, undefined, undefined, 'gzip', 'identity'),
  authorization: fc.constantFrom(undefined, 'Bearer k', 'Basic zzz', ''),
  body,
});
type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never;

const BROKEN_ESCAPE = /%(?![0-9a-f]{2})/i;
const DOT_SEGMENT = /(?:^|[/\\])(?:\.|%2e){1,2}(?:[/\\?#]|$)/i;

/** What any request that reaches an upstream must be, judged here independently of the proxy. */
function couldBeValid(generated: Generated): boolean {
  const path = generated.target.split('?')[0] ?? '';
  if (!path.startsWith('/v1/') || BROKEN_ESCAPE.test(path) || DOT_SEGMENT.test(path)) return false;
  if (generated.encoding === 'gzip') return false;
  if (generated.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/completions'))
    return true;
  let parsed: unknown;
  try {
    const text = (generated.body ?? Buffer.alloc(0)).toString('utf8').replace(/^\uFEFF/, '');
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  return (
    typeof parsed === 'object' &&
    parsed !== null &&
    typeof (parsed as { model?: unknown }).model === 'string' &&
    /^application\/(?:[\w.-]+\+)?json/i.test(generated.contentType ?? '')
  );
}

it('answers every generated request with a 2xx or a 4xx in OpenAI’s shape, and logs no error', async () => {
  await fc.assert(
    fc.asyncProperty(request, async (generated) => {
      const before = upstream.stats.requests;
      const headers: Record<string, string> = {};
      if (generated.contentType !== undefined) headers['content-type'] = generated.contentType;
      if (generated.encoding !== undefined) headers['content-encoding'] = generated.encoding;
      if (generated.authorization !== undefined) headers.authorization = generated.authorization;
      const answer = await rawRequest(gateway.url, {
        method: generated.method,
        target: generated.target,
        headers,
        ...(generated.body === undefined ? {} : { body: generated.body }),
      });
      expect(answer.status, answer.body).toBeLessThan(500);
      if (answer.status >= 400 && answer.headers['x-mock-upstream'] === undefined) {
        expect(answer.json?.error).toEqual({
          message: expect.any(String),
          type: expect.any(String),
          param: expect.toSatisfy((param) => param === null || typeof param === 'string'),
          code: expect.any(String),
        });
      }
      if (upstream.stats.requests > before) expect(couldBeValid(generated)).toBe(true);
      expect(errorLines).toEqual([]);
    }),
    { numRuns: 400 },
  );
}, 120_000);

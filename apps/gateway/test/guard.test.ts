import { createHash } from 'node:crypto';
import { type IncomingHttpHeaders, request } from 'node:http';
import { Writable } from 'node:stream';
import { createLogger, type Env, type KeyHeader } from '@openai-proxy/shared';
import express from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.js';
import { createGatewayMetrics } from '../src/observability/gateway-metrics.js';
import { createGuard } from '../src/pipeline/guard.js';
import { createDoor } from '../src/pipeline/request-door.js';
import { createRequestLimiter, type RequestLimiter } from '../src/security/request-limiter.js';
import { type Listening, listen } from './listening.js';

const logger = createLogger({
  name: 'guard-test',
  level: 'warn',
  destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
});

let server: Listening | undefined;
let limiter: RequestLimiter | undefined;

afterEach(async () => {
  await server?.close();
  await limiter?.close();
  server = undefined;
  limiter = undefined;
});

/** What the route behind the guard saw of a request that passed. */
interface Passed {
  authorization: string | null;
  xApiKey: string | null;
  clientKeyDigest: string | null;
}

/**
 * A real Express app whose every request goes through the door (so refusals are answered as the
 * gateway answers them) and the guard built from `env`; a request that passes is answered with
 * what the route saw of it.
 */
async function guarded(env: Env, keyHeader?: KeyHeader): Promise<number> {
  const config = loadGatewayConfig({ UPSTREAM_API_URL: 'http://127.0.0.1:9/v1', ...env });
  limiter = createRequestLimiter(config, logger);
  const guard = createGuard(config, limiter, keyHeader);
  const door = createDoor({
    logger,
    metrics: createGatewayMetrics(new Registry(), { defaultMetrics: false }),
    mode: 'standalone',
    maxInflight: 100,
  });
  const app = express();
  app.use(
    door.route('/v1/*', true, async (req, res, ctx) => {
      await guard(req, res, ctx);
      const passed: Passed = {
        authorization: req.headers.authorization ?? null,
        xApiKey: (req.headers['x-api-key'] as string | undefined) ?? null,
        clientKeyDigest: ctx.clientKeyDigest ?? null,
      };
      res.json(passed);
    }),
  );
  server = await listen(app);
  return server.port;
}

interface Sent {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request sent as written: the target byte for byte (fetch would normalise dot segments). */
function send(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function errorCode(sent: Sent): string | undefined {
  return (JSON.parse(sent.body) as { error?: { code?: string } }).error?.code;
}

function passed(sent: Sent): Passed {
  expect(sent.status).toBe(200);
  return JSON.parse(sent.body) as Passed;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the /v1 guard: safe target', () => {
  it('lets a plain target through, query included', async () => {
    const port = await guarded({});
    expect((await send(port, '/v1/models')).status).toBe(200);
    expect((await send(port, '/v1/files?after=../../etc&name=a%2e%2e')).status).toBe(200);
    expect((await send(port, '/v1/models/gpt-4.1')).status).toBe(200);
  });

  it.each([
    ['an absolute form', 'http://other-host/v1/models'],
    ['a network-path form', '//other-host/v1/models'],
    ['a dot-dot segment', '/v1/../admin/status'],
    ['a trailing dot-dot', '/v1/models/..'],
    ['a dot segment', '/v1/./models'],
    ['a percent-encoded dot-dot', '/v1/%2e%2E/admin'],
    ['a half-encoded dot-dot', '/v1/.%2e/admin'],
    ['backslashes for slashes', '/v1\\..\\admin'],
    ['a broken percent-escape', '/v1/models/%zz'],
    ['a percent at the end', '/v1/models/50%'],
  ])('refuses %s with 400 invalid_path', async (_name, target) => {
    const port = await guarded({});
    const sent = await send(port, target);
    expect(sent.status).toBe(400);
    expect(errorCode(sent)).toBe('invalid_path');
  });
});

describe('the /v1 guard: declared size', () => {
  it('refuses a body declared larger than MAX_BODY_BYTES with 413, and takes one of exactly that size', async () => {
    const port = await guarded({ MAX_BODY_BYTES: '1000' });
    const json = { 'content-type': 'application/json' };
    const tooLarge = await send(port, '/v1/chat/completions', {
      method: 'POST',
      headers: json,
      body: 'x'.repeat(1_001),
    });
    expect(tooLarge.status).toBe(413);
    expect(errorCode(tooLarge)).toBe('request_too_large');
    const fits = await send(port, '/v1/chat/completions', {
      method: 'POST',
      headers: json,
      body: 'x'.repeat(1_000),
    });
    expect(fits.status).toBe(200);
  });
});

describe('the /v1 guard: access keys', () => {
  const keys = { GATEWAY_API_KEYS: 'key-one,key-two' };

  it('takes any configured key as a Bearer token, and passes no client key on', async () => {
    const port = await guarded(keys);
    for (const key of ['key-one', 'key-two']) {
      const seen = passed(
        await send(port, '/v1/models', { headers: { authorization: `Bearer ${key}`, 'x-api-key': key } }),
      );
      // The key's digest names its owner (background responses belong to the key that made them).
      expect(seen).toEqual({ authorization: null, xApiKey: null, clientKeyDigest: sha256(key) });
    }
  });

  it('refuses a missing key, a bare key and a wrong key with 401, never repeating what was sent', async () => {
    const port = await guarded(keys);
    const missing = await send(port, '/v1/models');
    expect(missing.status).toBe(401);
    expect(errorCode(missing)).toBe('missing_api_key');

    const bare = await send(port, '/v1/models', { headers: { authorization: 'key-one' } });
    expect(bare.status).toBe(401);
    expect(errorCode(bare)).toBe('missing_api_key');
    expect(bare.body).toContain('Bearer <key>');
    expect(bare.body).not.toContain('key-one');

    const wrong = await send(port, '/v1/models', { headers: { authorization: 'Bearer sk-guessed-123' } });
    expect(wrong.status).toBe(401);
    expect(errorCode(wrong)).toBe('invalid_api_key');
    expect(wrong.body).not.toContain('sk-guessed-123');
  });

  it('reads x-api-key only on a route whose API takes it there', async () => {
    const openAiPort = await guarded(keys);
    const ignored = await send(openAiPort, '/v1/models', { headers: { 'x-api-key': 'key-one' } });
    expect(ignored.status).toBe(401);
    expect(errorCode(ignored)).toBe('missing_api_key');
    await server?.close();

    const messagesPort = await guarded(keys, 'x-api-key');
    const seen = passed(await send(messagesPort, '/v1/messages', { headers: { 'x-api-key': 'key-two' } }));
    expect(seen.xApiKey).toBeNull();
    const wrong = await send(messagesPort, '/v1/messages', { headers: { 'x-api-key': 'nope' } });
    expect(errorCode(wrong)).toBe('invalid_api_key');
  });

  it('without gateway keys, passes the client key on, unless upstream calls use a server-side key', async () => {
    const openPort = await guarded({});
    expect(
      passed(await send(openPort, '/v1/models', { headers: { authorization: 'Bearer client-key' } })),
    ).toEqual({ authorization: 'Bearer client-key', xApiKey: null, clientKeyDigest: null });
    await server?.close();

    const serverKeyPort = await guarded({ UPSTREAM_API_KEY: 'server-side-key' });
    const seen = passed(
      await send(serverKeyPort, '/v1/models', { headers: { authorization: 'Bearer client-key' } }),
    );
    expect(seen.authorization).toBeNull();
  });
});

describe('the /v1 guard: rate limit', () => {
  it('counts each key on its own, by its digest, and refuses past the limit with 429 and Retry-After', async () => {
    const port = await guarded({ RATE_LIMIT_REQUESTS: '2', RATE_LIMIT_WINDOW_SECONDS: '60' });
    const asA = { headers: { authorization: 'Bearer client-a' } };
    const first = await send(port, '/v1/models', asA);
    expect(passed(first).clientKeyDigest).toBe(sha256('client-a'));
    // The client's key still passes on: rate limiting alone uses no server-side key.
    expect(passed(first).authorization).toBe('Bearer client-a');
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    const reset = Number(first.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThanOrEqual(1);
    expect(reset).toBeLessThanOrEqual(60);

    expect((await send(port, '/v1/models', asA)).headers['x-ratelimit-remaining']).toBe('0');
    const refused = await send(port, '/v1/models', asA);
    expect(refused.status).toBe(429);
    expect(errorCode(refused)).toBe('rate_limit_exceeded');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');

    const asB = await send(port, '/v1/models', { headers: { authorization: 'Bearer client-b' } });
    expect(passed(asB).clientKeyDigest).toBe(sha256('client-b'));
    expect(asB.headers['x-ratelimit-remaining']).toBe('1');
  });

  it('counts a client without a key by its IP, and one with a bare key by that key', async () => {
    const port = await guarded({ RATE_LIMIT_REQUESTS: '1' });
    expect(passed(await send(port, '/v1/models')).clientKeyDigest).toBeNull();
    expect((await send(port, '/v1/models')).status).toBe(429);
    const bare = await send(port, '/v1/models', { headers: { authorization: 'sk-bare' } });
    expect(passed(bare).clientKeyDigest).toBe(sha256('sk-bare'));
  });

  it('is no step at all when off: no rate-limit headers', async () => {
    const port = await guarded({});
    const sent = await send(port, '/v1/models', { headers: { authorization: 'Bearer client-a' } });
    expect(sent.status).toBe(200);
    expect(sent.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('checks the key before counting: a wrong key is refused without using the allowance', async () => {
    const port = await guarded({ GATEWAY_API_KEYS: 'key-one', RATE_LIMIT_REQUESTS: '1' });
    const wrong = await send(port, '/v1/models', { headers: { authorization: 'Bearer wrong' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['x-ratelimit-limit']).toBeUndefined();
    const right = await send(port, '/v1/models', { headers: { authorization: 'Bearer key-one' } });
    expect(passed(right).clientKeyDigest).toBe(sha256('key-one'));
    expect((await send(port, '/v1/models', { headers: { authorization: 'Bearer key-one' } })).status).toBe(
      429,
    );
  });
});

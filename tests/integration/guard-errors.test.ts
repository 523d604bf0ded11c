import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import {
  createGatewayMetrics,
  createServer,
  loadGatewayConfig,
  type NonStreamCompleter,
} from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { createLogger, UpstreamSet } from '@openai-proxy/shared';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 5, error isolation: an unexpected error inside a request (here a completer that fails
// in ways no ProxyError describes) is a 500 in OpenAI's shape carrying the request id, logged
// once with its stack, and the server goes on serving. The app runs in-process so the test can
// hand it a failing part; everything else (Express, the HTTP server, the logger) is real.

let upstream: MockUpstream;
let upstreams: UpstreamSet;
let server: Server;
let url: string;
const logLines: Array<Record<string, unknown>> = [];

/** Fails as the request's user-agent says: a rejected Error, a rejected string, or a sync throw. */
const failingCompleter: NonStreamCompleter = {
  mode: 'standalone',
  complete(_api, request) {
    const how = request.headers['user-agent'];
    if (how === 'sync') throw new TypeError('sync failure inside the completer');
    if (how === 'string') return Promise.reject('a bare string, not an Error');
    return Promise.reject(new Error('async failure inside the completer'));
  },
  close: async () => {},
};

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'unused' });
  const config = loadGatewayConfig({ UPSTREAM_API_URL: upstream.chatUrl, STATS_INTERVAL_SECONDS: '0' });
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim() !== '') logLines.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ name: 'gateway', level: 'info', destination });
  const metrics = createGatewayMetrics(new Registry(), { defaultMetrics: false });
  upstreams = new UpstreamSet(config);
  const app = createServer({ config, logger, metrics, upstreams, completer: failingCompleter });
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await upstreams?.close();
  await upstream?.close();
});

const ask = (how: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    // user-agent is an allow-listed header, so it reaches the completer's job.
    headers: { 'content-type': 'application/json', 'user-agent': how },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
  });

describe.each(['async', 'sync', 'string'])('a completer failing (%s)', (how) => {
  it('gives a 500 in OpenAI shape with the request id, and no internals', async () => {
    const response = await ask(how);
    expect(response.status).toBe(500);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toEqual(expect.any(String));
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      error: {
        message: expect.stringContaining(`request id ${requestId}`),
        type: 'server_error',
        param: null,
        code: 'internal_error',
      },
    });
    expect(text).not.toContain('failure');
    expect(text).not.toContain('bare string');

    const logged = logLines.filter((line) => line.msg === 'unexpected error' && line.requestId === requestId);
    expect(logged).toHaveLength(1);
    const err = logged[0]?.err as { stack?: string; message?: string } | string;
    if (how === 'string') expect(err).toBe('a bare string, not an Error');
    else expect(typeof err === 'object' && err.stack).toMatch(/failure inside the completer\n\s+at /);
  });
});

it('keeps serving after the failures', async () => {
  const health = await fetch(`${url}/health`);
  expect(health.status).toBe(200);
  const bad = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(bad.status).toBe(400);
  expect(upstream.stats.requests).toBe(0);
});

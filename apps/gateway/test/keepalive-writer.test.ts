import type { Response } from 'express';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeepaliveWriter } from '../src/relay/keepalive-writer.js';
import { type Listening, listen } from './listening.js';

let server: Listening | undefined;

beforeEach(() => {
  // Only the writer's timers: the HTTP server and client keep their own.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(async () => {
  vi.useRealTimers();
  await server?.close();
  server = undefined;
});

/** A request held open by a real Express app, with its KeepaliveWriter, until the test answers it. */
async function heldRequest(intervalMs: number) {
  let handOver: (held: { res: Response; keepalive: KeepaliveWriter }) => void = () => undefined;
  const held = new Promise<{ res: Response; keepalive: KeepaliveWriter }>((resolve) => {
    handOver = resolve;
  });
  const app = express();
  app.post('/v1/chat/completions', (_req, res) => {
    handOver({ res, keepalive: new KeepaliveWriter(res, intervalMs) });
  });
  server = await listen(app);
  const response = fetch(`${server.url}/v1/chat/completions`, { method: 'POST' });
  return { response, ...(await held) };
}

describe('KeepaliveWriter', () => {
  it('sends the 200 after the interval, then a space every interval, until stopped', async () => {
    const { response, res, keepalive } = await heldRequest(1_000);
    vi.advanceTimersByTime(999);
    expect(keepalive.started).toBe(false);
    vi.advanceTimersByTime(1);
    expect(keepalive.started).toBe(true);
    vi.advanceTimersByTime(2_000);
    keepalive.stop();
    vi.advanceTimersByTime(10_000);
    res.end('{"answer":true}');

    const answered = await response;
    expect(answered.status).toBe(200);
    expect(answered.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answered.headers.get('x-openai-proxy-keepalive')).toBe('true');
    const body = await answered.text();
    expect(body).toBe('   {"answer":true}');
    expect(JSON.parse(body)).toEqual({ answer: true });
  });

  it('sends nothing for an answer ready within the interval: its own status goes out', async () => {
    const { response, res, keepalive } = await heldRequest(1_000);
    vi.advanceTimersByTime(999);
    keepalive.stop();
    vi.advanceTimersByTime(10_000);
    expect(keepalive.started).toBe(false);
    res.status(429).json({ error: { code: 'rate_limit_exceeded' } });

    const answered = await response;
    expect(answered.status).toBe(429);
    expect(answered.headers.get('x-openai-proxy-keepalive')).toBeNull();
    expect(await answered.text()).toBe('{"error":{"code":"rate_limit_exceeded"}}');
  });

  it('is off with an interval of 0: no timer at all', async () => {
    const { response, res, keepalive } = await heldRequest(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(keepalive.started).toBe(false);
    res.status(201).end('{}');
    expect((await response).status).toBe(201);
  });
});

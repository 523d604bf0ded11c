import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postJson } from './support/http.js';

// Issue 4, upstream side: cool-down and failover, layered timeouts, broken streams. What is
// tested is the gateway's HTTP towards its upstreams: each test's gateway runs in the test's process.

let stack: Stack<'a' | 'b'>;
let a: MockUpstream;
let b: MockUpstream;

beforeAll(async () => {
  stack = await startStack({ upstreams: ['a', 'b'] });
  ({ a, b } = stack.upstreams);
});
afterEach(() => {
  for (const upstream of [a, b]) upstream.setDefault({ kind: 'echo' });
});
afterAll(() => stack?.stop());

/** A standalone gateway on both upstreams (a, b) unless `env` says otherwise. */
function gateway(env: Record<string, string>): Promise<InProcessGateway> {
  return stack.addGateway({ run: 'in-process', env });
}

const chat = (gw: InProcessGateway, content: string, extra: Record<string, unknown> = {}) =>
  postJson(`${gw.url}/v1/chat/completions`, chatBody(content, extra));

describe('cool-down and failover', () => {
  it('skips an upstream that answered 429 for as long as its Retry-After says', async () => {
    const gw = await gateway({ UPSTREAM_COOLDOWN_MS: '60000' });
    a.enqueue({ kind: 'status', status: 429, headers: { 'retry-after': '120' } });
    b.setDefault({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    // First request: whichever it picks first, both end up cooling; the answer is the last 429 relayed.
    const first = await chat(gw, 'x');
    expect(first.status).toBe(429);
    b.setDefault({ kind: 'echo' });
    const aBefore = a.stats.requests;
    // Both are cooling now: the proxy tries the one that recovers first (b, 1 s) instead of refusing.
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(gw, `after ${i}`)));
    for (const answer of answers) expect(answer.status).toBe(200);
    expect(a.stats.requests).toBe(aBefore);
  });

  it('fails over before the first byte and marks the failing upstream down', async () => {
    const gw = await gateway({ UPSTREAM_COOLDOWN_MS: '60000' });
    a.setDefault({ kind: 'status', status: 502 });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(gw, `r${i}`)));
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect((answer.json.choices as { message: { content: string } }[])[0]?.message.content).toBe(
        `echo: r${i}`,
      );
    }
    // After its 502s, a cools down (60 s here): later requests go to b only.
    const later = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(gw, `later${i}`)));
    for (const answer of later) expect(answer.status).toBe(200);
    expect(
      a.requests.some((r) =>
        String((r.body as { messages: { content: string }[] }).messages[0]?.content).startsWith('later'),
      ),
    ).toBe(false);
  });

  it('relays the upstream error when every try failed', async () => {
    const gw = await gateway({});
    a.setDefault({
      kind: 'status',
      status: 500,
      body: '{"error":{"message":"a broke","type":"server_error","param":null,"code":null}}',
    });
    b.setDefault({
      kind: 'status',
      status: 500,
      body: '{"error":{"message":"b broke","type":"server_error","param":null,"code":null}}',
    });
    const answer = await chat(gw, 'x');
    expect(answer.status).toBe(500);
    expect(answer.json.error?.message).toMatch(/^[ab] broke$/);
  });

  it('relays upstream 4xx answers before the stream with their status and body, without failover', async () => {
    const gw = await gateway({});
    const body =
      '{"error":{"message":"The model `nope` does not exist","type":"invalid_request_error","param":"model","code":"model_not_found"}}';
    for (const upstream of [a, b]) upstream.setDefault({ kind: 'status', status: 404, body });
    const before = a.stats.requests + b.stats.requests;
    for (const stream of [false, true]) {
      const answer = await chat(gw, 'x', { stream });
      expect(answer.status).toBe(404);
      expect(answer.text).toBe(body);
    }
    expect(a.stats.requests + b.stats.requests - before).toBe(2);
  });

  it('gives a streaming client the bytes of one upstream only: a stream cut mid-way is cut, not continued elsewhere', async () => {
    const gw = await gateway({ UPSTREAM_API_URL: `${a.chatUrl},${b.chatUrl}` });
    for (const upstream of [a, b]) upstream.setDefault({ kind: 'drop', afterChunks: 2 });
    const before = a.stats.requests + b.stats.requests;
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('cut', { stream: true })),
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    expect(a.stats.requests + b.stats.requests - before).toBe(1);
  });
});

describe('broken streams on non-stream requests', () => {
  it('retries a stream that broke mid-way once (default) and answers from the retry', async () => {
    const gw = await gateway({ UPSTREAM_API_URL: a.chatUrl });
    a.enqueue({ kind: 'drop', afterChunks: 2 });
    const before = a.stats.requests;
    const answer = await chat(gw, 'retry me');
    expect(answer.status).toBe(200);
    expect((answer.json.choices as { message: { content: string } }[])[0]?.message.content).toBe(
      'echo: retry me',
    );
    expect(a.stats.requests - before).toBe(2);
  });

  it('answers 502 upstream_stream_truncated when the stream keeps breaking, never a shortened 200', async () => {
    const gw = await gateway({ UPSTREAM_STREAM_RETRIES: '1' });
    for (const upstream of [a, b]) upstream.setDefault({ kind: 'drop', afterChunks: 3 });
    const answer = await chat(gw, 'never whole');
    expect(answer.status).toBe(502);
    expect(answer.json.error?.code).toMatch(/^upstream_(stream_truncated|unavailable)$/);
  });
});

describe('layered timeouts, each named in its 504', () => {
  it('first byte', async () => {
    const gw = await gateway({ UPSTREAM_API_URL: a.chatUrl, UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '300' });
    a.setDefault({ kind: 'hang' });
    for (const stream of [false, true]) {
      const answer = await chat(gw, 'slow', { stream });
      expect(answer.status).toBe(504);
      expect(answer.json.error?.code).toBe('first_byte_timeout');
      expect(answer.json.error?.message).toContain('300 ms');
    }
  });

  it('idle between chunks', async () => {
    const gw = await gateway({
      UPSTREAM_API_URL: a.chatUrl,
      UPSTREAM_IDLE_TIMEOUT_MS: '300',
      UPSTREAM_STREAM_RETRIES: '0',
    });
    a.setDefault({ kind: 'hang', afterHeaders: true });
    const answer = await chat(gw, 'stalls');
    expect(answer.status).toBe(504);
    expect(answer.json.error?.code).toBe('idle_timeout');
  });

  it('total (non-stream request deadline)', async () => {
    const gw = await gateway({ UPSTREAM_API_URL: a.chatUrl, REQUEST_TIMEOUT_MS: '400' });
    a.setDefault({ kind: 'echo', chunkDelayMs: 100, words: 50 });
    const answer = await chat(gw, 'long');
    expect(answer.status).toBe(504);
    expect(answer.json.error?.code).toBe('deadline_exceeded');
    await a.waitForAborted(1);
  });

  it('total (stream: UPSTREAM_TOTAL_TIMEOUT_MS cuts the stream and aborts the upstream call)', async () => {
    const gw = await gateway({ UPSTREAM_API_URL: a.chatUrl, UPSTREAM_TOTAL_TIMEOUT_MS: '400' });
    a.setDefault({ kind: 'echo', chunkDelayMs: 100, words: 50 });
    const abortedBefore = a.stats.aborted;
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('long', { stream: true })),
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    await a.waitForAborted(abortedBefore + 1);
  });

  describe('connect', () => {
    let listener: ChildProcess;
    let port: number;
    const fillers: Socket[] = [];

    beforeAll(async () => {
      // A listener that never accepts, with a backlog of 0: once the kernel queue is full,
      // further SYNs are dropped and connecting hangs — a connect timeout on loopback.
      listener = spawn('python3', [
        '-c',
        'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)',
      ]);
      port = await new Promise<number>((resolve) =>
        listener.stdout?.once('data', (data: Buffer) => resolve(Number(data.toString().trim()))),
      );
      for (let i = 0; i < 4; i += 1) {
        const socket = new Socket();
        socket.on('error', () => {});
        socket.connect(port, '127.0.0.1');
        fillers.push(socket);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    afterAll(() => {
      for (const socket of fillers) socket.destroy();
      listener.kill('SIGKILL');
    });

    it('connect', async () => {
      const gw = await gateway({
        UPSTREAM_API_URL: `http://127.0.0.1:${port}/v1/chat/completions`,
        UPSTREAM_CONNECT_TIMEOUT_MS: '300',
      });
      const answer = await chat(gw, 'unreachable');
      expect(answer.status).toBe(504);
      expect(answer.json.error?.code).toBe('connect_timeout');
    });
  });
});

describe('NONSTREAM_KEEPALIVE_MS', () => {
  it('sends the status early and spaces until the JSON is ready; the SDK reads it as usual', async () => {
    const gw = await gateway({ UPSTREAM_API_URL: a.chatUrl, NONSTREAM_KEEPALIVE_MS: '100' });
    a.setDefault({ kind: 'echo', chunkDelayMs: 60, words: 10 });
    const answer = await chat(gw, 'patience');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-openai-proxy-keepalive')).toBe('true');
    expect(answer.text).toMatch(/^ +\{/);
    expect(contentOf(answer.json)).toBe('w1 w2 w3 w4 w5 w6 w7 w8 w9 w10');
    const { default: OpenAI } = await import('openai');
    const sdk = new OpenAI({ apiKey: 'k', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const completion = await sdk.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(completion.choices[0]?.message.content).toBe('w1 w2 w3 w4 w5 w6 w7 w8 w9 w10');
  });

  it('puts an error that comes after the early status in the body', async () => {
    a.setDefault({ kind: 'hang', afterHeaders: true });
    const gwIdle = await gateway({
      UPSTREAM_API_URL: a.chatUrl,
      NONSTREAM_KEEPALIVE_MS: '100',
      UPSTREAM_IDLE_TIMEOUT_MS: '500',
      UPSTREAM_STREAM_RETRIES: '0',
    });
    const answer = await chat(gwIdle, 'doomed');
    expect(answer.status).toBe(200);
    expect(answer.text).toMatch(/^ +\{"error"/);
    expect(answer.json.error?.code).toBe('idle_timeout');
  });
});

const contentOf = (json: Record<string, unknown>) =>
  (json.choices as { message: { content: string } }[] | undefined)?.[0]?.message.content;

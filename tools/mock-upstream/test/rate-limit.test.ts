import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockRateLimit,
  type MockUpstream,
  type MockUpstreamOptions,
  startMockUpstream,
} from '../src/index.js';
import { formatOpenAiDuration } from '../src/rate-limit-response.js';

// The `rateLimit` option over real HTTP. Windows are short (300 ms) to keep the file fast; each test
// that needs several calls in one window first waits for a window to begin (`atWindowStart`), read
// off the mock's own reset header, so a slow machine does not split its calls over two windows.

const WINDOW_MS = 300;
/** How far past a window boundary a test starts, so the server's clock has surely crossed it. */
const BOUNDARY_MARGIN_MS = 2;

const started: MockUpstream[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((mock) => mock.close()));
});

async function startLimited(
  rateLimit: MockRateLimit,
  extra: MockUpstreamOptions = {},
): Promise<MockUpstream> {
  const mock = await startMockUpstream({ port: 0, name: 'limited', ...extra, rateLimit });
  started.push(mock);
  return mock;
}

const BODIES = {
  '/v1/chat/completions': { model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'hi' }] },
  '/v1/completions': { model: 'gpt-test', stream: true, prompt: 'hi' },
  '/v1/responses': { model: 'gpt-test', stream: true, input: 'hi' },
  '/v1/messages': {
    model: 'claude-test',
    max_tokens: 16,
    stream: true,
    messages: [{ role: 'user', content: 'hi' }],
  },
} as const;

type StreamingPath = keyof typeof BODIES;

/** One streaming call, its body read to the end so the connection is free for the next. */
async function call(
  url: string,
  path: StreamingPath = '/v1/chat/completions',
): Promise<{ res: Response; text: string; sentAt: number; receivedAt: number }> {
  const sentAt = Date.now();
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(BODIES[path]),
  });
  const receivedAt = Date.now();
  return { res, text: await res.text(), sentAt, receivedAt };
}

/** `250ms`, `1.5s`, `6m0s`, `1h0m0s` back to ms; throws on anything else. */
function parseOpenAiDuration(text: string): number {
  const millis = /^(\d+)ms$/.exec(text);
  if (millis) return Number(millis[1]);
  const parts = /^(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)s$/.exec(text);
  if (!parts) throw new Error(`not an OpenAI duration: ${JSON.stringify(text)}`);
  const [, hours = '0', minutes = '0', seconds = '0'] = parts;
  return Math.round(((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000);
}

function header(res: Response, name: string): string {
  const value = res.headers.get(name);
  if (value === null) throw new Error(`missing header ${name}`);
  return value;
}

/**
 * When the window that counted this answer ends, on `Date.now()`'s clock (the server's): Anthropic's
 * reset is absolute; OpenAI's is relative to the server's decision, which came before `receivedAt`,
 * so adding it to `receivedAt` can only land later than the true end.
 */
function windowEnd(res: Response, receivedAt: number): number {
  const anthropicReset = res.headers.get('anthropic-ratelimit-requests-reset');
  if (anthropicReset !== null) return Date.parse(anthropicReset);
  return receivedAt + parseOpenAiDuration(header(res, 'x-ratelimit-reset-requests'));
}

async function waitUntil(epochMs: number): Promise<void> {
  // Timers run off the event loop's cached clock and may fire a little early by Date.now().
  for (let left = epochMs - Date.now(); left > 0; left = epochMs - Date.now()) await sleep(left);
}

async function waitForNextWindow(answer: { res: Response; receivedAt: number }): Promise<void> {
  await waitUntil(windowEnd(answer.res, answer.receivedAt) + BOUNDARY_MARGIN_MS);
}

/** Spends one probe call, then waits for the next window to begin: the test gets a whole window. */
async function atWindowStart(mock: MockUpstream): Promise<void> {
  await waitForNextWindow(await call(mock.url));
}

describe('formatOpenAiDuration', () => {
  it("writes durations the way OpenAI's reset headers do (Go's format)", () => {
    expect(formatOpenAiDuration(20)).toBe('20ms');
    expect(formatOpenAiDuration(250)).toBe('250ms');
    expect(formatOpenAiDuration(999)).toBe('999ms');
    expect(formatOpenAiDuration(1000)).toBe('1s');
    expect(formatOpenAiDuration(1500)).toBe('1.5s');
    expect(formatOpenAiDuration(2533)).toBe('2.533s');
    expect(formatOpenAiDuration(2050)).toBe('2.05s');
    expect(formatOpenAiDuration(86_400)).toBe('1m26.4s');
    expect(formatOpenAiDuration(360_000)).toBe('6m0s');
    expect(formatOpenAiDuration(3_600_000)).toBe('1h0m0s');
    expect(formatOpenAiDuration(0)).toBe('0s');
  });
});

describe('within the limit', () => {
  it('serves calls as usual with OpenAI headers whose remaining counts down', async () => {
    const mock = await startLimited({ requests: 3, windowMs: WINDOW_MS });
    await atWindowStart(mock);
    const resets: number[] = [];
    for (const remaining of ['2', '1', '0']) {
      const { res, text } = await call(mock.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(header(res, 'x-ratelimit-limit-requests')).toBe('3');
      expect(header(res, 'x-ratelimit-remaining-requests')).toBe(remaining);
      expect(header(res, 'x-ratelimit-reset-requests')).toMatch(/^\d+ms$/);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(res.headers.get('anthropic-ratelimit-requests-limit')).toBeNull();
      resets.push(parseOpenAiDuration(header(res, 'x-ratelimit-reset-requests')));
    }
    // One window: the time to its end only shrinks, and stays within the window.
    expect(resets).toEqual([...resets].sort((a, b) => b - a));
    for (const reset of resets) {
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(WINDOW_MS);
    }
  });

  it('counts the four streaming APIs together, and not the other routes', async () => {
    const mock = await startLimited({ requests: 4, windowMs: WINDOW_MS });
    await atWindowStart(mock);
    const paths: StreamingPath[] = [
      '/v1/chat/completions',
      '/v1/completions',
      '/v1/responses',
      '/v1/messages',
    ];
    for (const [i, path] of paths.entries()) {
      const { res } = await call(mock.url, path);
      expect(res.status).toBe(200);
      expect(header(res, 'x-ratelimit-remaining-requests')).toBe(String(3 - i));
    }
    const models = await fetch(`${mock.url}/v1/models`);
    const embeddings = await fetch(`${mock.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'e', input: 'x' }),
    });
    for (const res of [models, embeddings]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBeNull();
      await res.arrayBuffer();
    }
    expect((await call(mock.url, '/v1/responses')).res.status).toBe(429);
  });
});

describe('past the limit', () => {
  it("answers chat with 429 at once: remaining 0, retry-after and OpenAI's error shape", async () => {
    const mock = await startLimited({ requests: 2, windowMs: WINDOW_MS });
    await atWindowStart(mock);
    expect((await call(mock.url)).res.status).toBe(200);
    expect((await call(mock.url)).res.status).toBe(200);
    // Were the refusal to go through the behaviours, it would hang here.
    mock.setDefault({ kind: 'hang' });
    const { res, text } = await call(mock.url);
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(header(res, 'x-mock-upstream')).toBe('limited');
    expect(header(res, 'x-ratelimit-limit-requests')).toBe('2');
    expect(header(res, 'x-ratelimit-remaining-requests')).toBe('0');
    const resetMs = parseOpenAiDuration(header(res, 'x-ratelimit-reset-requests'));
    expect(resetMs).toBeGreaterThan(0);
    expect(resetMs).toBeLessThanOrEqual(WINDOW_MS);
    expect(header(res, 'retry-after')).toBe('1');
    expect(JSON.parse(text)).toEqual({
      error: {
        message: expect.stringContaining('Rate limit reached'),
        type: 'rate_limit_exceeded',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
  });

  it("answers /v1/messages with Anthropic's error shape", async () => {
    const mock = await startLimited({ requests: 1, windowMs: WINDOW_MS });
    await atWindowStart(mock);
    expect((await call(mock.url, '/v1/messages')).res.status).toBe(200);
    const { res, text } = await call(mock.url, '/v1/messages');
    expect(res.status).toBe(429);
    expect(header(res, 'x-ratelimit-remaining-requests')).toBe('0');
    expect(header(res, 'retry-after')).toBe('1');
    expect(JSON.parse(text)).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: expect.stringContaining('rate limit') },
    });
  });

  it('sends retry-after as the seconds to the window end, rounded up; none with retryAfter: false', async () => {
    // requests: 0 refuses every call, so no timing is needed to reach a refusal.
    const mock = await startLimited({ requests: 0, windowMs: 2500 });
    const { res } = await call(mock.url);
    expect(res.status).toBe(429);
    const reset = header(res, 'x-ratelimit-reset-requests');
    expect(reset).toMatch(/^\d+(\.\d+)?s$|^\d+ms$/);
    const expected = Math.max(1, Math.ceil(parseOpenAiDuration(reset) / 1000));
    expect(header(res, 'retry-after')).toBe(String(expected));
    expect(expected).toBeGreaterThanOrEqual(1);
    expect(expected).toBeLessThanOrEqual(3);

    const quiet = await startLimited({ requests: 0, windowMs: 2500, retryAfter: false });
    const refused = (await call(quiet.url)).res;
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(header(refused, 'x-ratelimit-remaining-requests')).toBe('0');
  });

  it('admits again in the next window', async () => {
    const mock = await startLimited({ requests: 2, windowMs: WINDOW_MS });
    await atWindowStart(mock);
    await call(mock.url);
    await call(mock.url);
    const refused = await call(mock.url);
    expect(refused.res.status).toBe(429);
    await waitForNextWindow(refused);
    const { res } = await call(mock.url);
    expect(res.status).toBe(200);
    expect(header(res, 'x-ratelimit-remaining-requests')).toBe('1');
  });

  it('leaves a queued behaviour for the next admitted call', async () => {
    const mock = await startLimited({ requests: 1, windowMs: WINDOW_MS });
    await atWindowStart(mock);
    expect((await call(mock.url)).res.status).toBe(200);
    mock.enqueue({ kind: 'status', status: 503 });
    const refused = await call(mock.url);
    expect(refused.res.status).toBe(429);
    await waitForNextWindow(refused);
    const { res } = await call(mock.url);
    expect(res.status).toBe(503);
    expect(header(res, 'x-ratelimit-remaining-requests')).toBe('0');
    expect((await call(mock.url)).res.status).toBe(429);
  });
});

describe('stats', () => {
  it('counts 429s in rateLimited and the most admitted in one window in peakPerWindow', async () => {
    const mock = await startLimited({ requests: 3, windowMs: WINDOW_MS });
    expect(mock.stats).toMatchObject({ rateLimited: 0, peakPerWindow: 0 });
    await atWindowStart(mock);
    expect(mock.stats).toMatchObject({ rateLimited: 0, peakPerWindow: 1 });

    const burst = await Promise.all(Array.from({ length: 8 }, () => call(mock.url)));
    const admitted = burst.filter(({ res }) => res.status === 200);
    expect(admitted).toHaveLength(3);
    expect(burst.filter(({ res }) => res.status === 429)).toHaveLength(5);
    expect(admitted.map(({ res }) => header(res, 'x-ratelimit-remaining-requests')).sort()).toEqual([
      '0',
      '1',
      '2',
    ]);
    expect(mock.stats).toMatchObject({ requests: 9, rateLimited: 5, peakPerWindow: 3 });

    await waitForNextWindow(burst[0]!);
    expect((await call(mock.url)).res.status).toBe(200);
    expect(mock.stats).toMatchObject({ requests: 10, rateLimited: 5, peakPerWindow: 3 });
  });

  it('stays at zero, with no limit headers, without the option', async () => {
    const mock = await startMockUpstream({ port: 0 });
    started.push(mock);
    for (let i = 0; i < 5; i++) {
      const { res } = await call(mock.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBeNull();
    }
    expect(mock.stats).toMatchObject({ requests: 5, rateLimited: 0, peakPerWindow: 0 });
  });
});

describe('Anthropic header set', () => {
  it('sends anthropic-ratelimit-requests-* with an RFC 3339 reset at the window end', async () => {
    const mock = await startLimited({ requests: 2, windowMs: WINDOW_MS, headers: 'anthropic' });
    await atWindowStart(mock);
    const first = await call(mock.url, '/v1/messages');
    const second = await call(mock.url, '/v1/messages');
    for (const [{ res, sentAt, receivedAt }, remaining] of [
      [first, '1'],
      [second, '0'],
    ] as const) {
      expect(res.status).toBe(200);
      expect(header(res, 'anthropic-ratelimit-requests-limit')).toBe('2');
      expect(header(res, 'anthropic-ratelimit-requests-remaining')).toBe(remaining);
      const reset = header(res, 'anthropic-ratelimit-requests-reset');
      expect(reset).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      // The server decided between sentAt and receivedAt; its window ends after that, within WINDOW_MS.
      expect(Date.parse(reset)).toBeGreaterThan(sentAt);
      expect(Date.parse(reset) - receivedAt).toBeLessThanOrEqual(WINDOW_MS);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBeNull();
    }
    expect(header(second.res, 'anthropic-ratelimit-requests-reset')).toBe(
      header(first.res, 'anthropic-ratelimit-requests-reset'),
    );

    const { res, text } = await call(mock.url, '/v1/messages');
    expect(res.status).toBe(429);
    expect(header(res, 'anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(header(res, 'anthropic-ratelimit-requests-reset')).toBe(
      header(first.res, 'anthropic-ratelimit-requests-reset'),
    );
    expect(header(res, 'retry-after')).toBe('1');
    expect(JSON.parse(text)).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });
});

describe('rateLimit option checks', () => {
  it('rejects a bad limit before taking a port', async () => {
    for (const rateLimit of [{ requests: -1 }, { requests: 1.5 }, { requests: 1, windowMs: 0 }]) {
      await expect(startMockUpstream({ port: 0, rateLimit })).rejects.toThrow(RangeError);
    }
  });
});

describe('MOCK_RATE_LIMIT_RPS', () => {
  const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    child = undefined;
  });

  async function startMain(env: Record<string, string>): Promise<string> {
    child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, MOCK_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    for await (const piece of child.stdout!) {
      out += String(piece);
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) return match[1]!;
    }
    throw new Error(`mock main exited without listening: ${out}`);
  }

  it('limits the command-line mock to that many requests a second', async () => {
    const url = await startMain({ MOCK_RATE_LIMIT_RPS: '2' });
    await waitForNextWindow(await call(url));
    const answers = [await call(url), await call(url), await call(url)];
    expect(answers.map(({ res }) => res.status)).toEqual([200, 200, 429]);
    expect(answers.map(({ res }) => header(res, 'x-ratelimit-limit-requests'))).toEqual(['2', '2', '2']);
    expect(parseOpenAiDuration(header(answers[0]!.res, 'x-ratelimit-reset-requests'))).toBeLessThanOrEqual(
      1000,
    );
  }, 20_000);
});

import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, freePort, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonAnswer, postJson } from './support/http.js';
import { upstreamsFileDir } from './support/upstreams-file.js';

// Waiting for an upstream's room instead of failing, in real processes: two gateway replicas and
// a worker farm share each upstream's limits through Redis. Two mock providers enforce 10
// requests a second each, with OpenAI's rate-limit headers, and answer 429 past it; two more
// are saturated (every call a 429 with `retry-after: 60`).

const KEYS = ['key-a', 'key-b', 'key-c'];
const ADMIN_KEY = 'capacity-admin';
const LIMIT_PER_SECOND = 10;

let limited: MockUpstream[];
let saturated: MockUpstream[];
let recovering: MockUpstream;
let stack: Stack<never, { one: { run: 'process' }; two: { run: 'process' } }, 'farm'>;
let workerMetricsPort: number;
const files = upstreamsFileDir();

beforeAll(async () => {
  limited = await Promise.all(
    ['limited-1', 'limited-2'].map((name) =>
      startMockUpstream({ name, rateLimit: { requests: LIMIT_PER_SECOND, windowMs: 1_000 } }),
    ),
  );
  saturated = await Promise.all(['saturated-1', 'saturated-2'].map((name) => startMockUpstream({ name })));
  recovering = await startMockUpstream({ name: 'recovering' });
  for (const upstream of saturated)
    upstream.setDefault({ kind: 'status', status: 429, headers: { 'retry-after': '60' } });
  const entry = (upstream: MockUpstream, model: string) =>
    `  - url: ${upstream.chatUrl}\n    models: [${model}]\n    rpm: ${LIMIT_PER_SECOND * 60}\n`;
  const file = files.write(
    'upstreams.yaml',
    `upstreams:\n${limited.map((u) => entry(u, 'limited')).join('')}${saturated.map((u) => entry(u, 'saturated')).join('')}${entry(recovering, 'recovering')}`,
  );
  workerMetricsPort = await freePort();
  stack = await startStack({
    redis: true,
    env: {
      UPSTREAMS_FILE: file,
      QUEUE_PREFIX: `{test-${process.pid}-capacity}`,
      GATEWAY_API_KEYS: KEYS.join(','),
      MAX_INFLIGHT: '2000',
      ADMIN_API_KEYS: ADMIN_KEY,
    },
    gateways: { one: { run: 'process' }, two: { run: 'process' } },
    workers: {
      farm: {
        env: {
          WORKER_PROCESSES: '2',
          WORKER_CONCURRENCY: '100',
          WORKER_METRICS_PORT: String(workerMetricsPort),
        },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all(
    [...(limited ?? []), ...(saturated ?? []), recovering].map((upstream) => upstream?.close()),
  );
  files.remove();
});

const ask = (gateway: AppProcess, key: string, model: string, content: string, extra = {}) =>
  postJson(
    `${gateway.url}/v1/chat/completions`,
    { model, messages: [{ role: 'user', content }] },
    { authorization: `Bearer ${key}`, ...extra },
  );

/** A counter's value as the worker farm's /metrics says it (summed over its children). */
async function workerCounter(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${workerMetricsPort}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

interface StatusUpstream {
  label: string;
  capacity: {
    limits: Record<string, number> | null;
    inFlight: number;
    callsLastMinute: number;
    requestsLeft: { remaining: number; resetInMs: number } | null;
    retryInMs: number;
  } | null;
}

async function statusUpstreams(): Promise<StatusUpstream[]> {
  const response = await fetch(`${stack.gateways.one.url}/admin/status`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  return ((await response.json()) as { upstreams: StatusUpstream[] }).upstreams;
}

const contentOf = (answer: JsonAnswer) =>
  (answer.json.choices as { message: { content: string } }[] | undefined)?.[0]?.message.content;

/** The text a chat stream carries, its deltas joined. */
function streamedText(sse: string): string {
  return sse
    .split('\n')
    .filter((line) => line.startsWith('data: {'))
    .map((line) => {
      const chunk = JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[] };
      return chunk.choices[0]?.delta.content ?? '';
    })
    .join('');
}

describe('a burst above what the upstreams allow', () => {
  it('waits for room: every request answered 200, no client 429, no upstream above its limit', async () => {
    const gateways = [stack.gateways.one, stack.gateways.two];
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        ask(gateways[i % 2] as AppProcess, KEYS[i % 3] as string, 'limited', `burst ${i}`),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    const statuses = new Map<number, number>();
    for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const calls = limited.map((upstream) => upstream.stats.requests);
    const refusedByUpstreams = limited.map((upstream) => upstream.stats.rateLimited);
    const peaks = limited.map((upstream) => upstream.stats.peakPerWindow);
    console.log(
      `[capacity] 300 requests, 3 keys, 2 gateways, 2 upstreams at ${LIMIT_PER_SECOND}/s | statuses ${JSON.stringify(Object.fromEntries(statuses))} | seconds ${seconds.toFixed(1)} | upstream calls ${calls.join(' + ')} | upstream 429s ${refusedByUpstreams.join(' + ')} | peak calls in one second ${peaks.join(', ')}`,
    );
    expect(Object.fromEntries(statuses)).toEqual({ 200: 300 });
    expect(answers.every((answer, i) => contentOf(answer) === `echo: burst ${i}`)).toBe(true);
    // Admitted calls never passed the limit (the mock refuses past it), and its refusals stay
    // few: the first second's, before any header was read, and a handful at window edges.
    for (const peak of peaks) expect(peak).toBeLessThanOrEqual(LIMIT_PER_SECOND);
    expect(refusedByUpstreams.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(30);
    // 300 requests at 20 a second cannot take less than 14 s (the first window is free).
    expect(seconds).toBeGreaterThan(13);
    // Each request's wait (under a second here: the next second's room) was waited in a worker.
    expect(
      await workerCounter('openai_proxy_worker_capacity_wait_seconds_count{class="interactive"}'),
    ).toBeGreaterThan(0);
    // What every gateway shows of each upstream's room: its limits and the minute's calls, each
    // call made there (150 each when no 429 sent a call to the other one; a 429 can, under load).
    const shown = await statusUpstreams();
    for (const upstream of limited) {
      const seen = shown.find((entry) => entry.label === new URL(upstream.url).host);
      expect(seen?.capacity).toMatchObject({ limits: { rpm: LIMIT_PER_SECOND * 60 }, inFlight: 0 });
      expect(seen?.capacity?.callsLastMinute).toBe(upstream.stats.requests);
    }
    // And in the gateway's /metrics: what is left of each upstream's minute.
    const scraped = await (await fetch(`${stack.gateways.two.url}/metrics`)).text();
    for (const upstream of limited) {
      const host = new URL(upstream.url).host;
      const made = upstream.stats.requests;
      expect(scraped).toContain(`openai_proxy_upstream_calls_last_minute{upstream="${host}"} ${made}`);
      expect(scraped).toMatch(
        new RegExp(
          `openai_proxy_upstream_room\\{upstream="${host}",limit="rpm"\\} ${LIMIT_PER_SECOND * 60 - made}\\b`,
        ),
      );
    }
  }, 90_000);
});

describe('an upstream that asks for a few seconds', () => {
  it('the job waits in the queue (delayed) and is answered once the upstream has room', async () => {
    const delaysBefore = await workerCounter('openai_proxy_worker_capacity_delays_total');
    const absorbedBefore = await workerCounter('openai_proxy_worker_upstream_429s_absorbed_total');
    recovering.enqueue({ kind: 'status', status: 429, headers: { 'retry-after': '3' } });
    const started = Date.now();
    const answer = await ask(stack.gateways.one, 'key-b', 'recovering', 'patience');
    const seconds = (Date.now() - started) / 1000;
    expect(answer.status).toBe(200);
    expect(contentOf(answer)).toBe('echo: patience');
    expect(seconds).toBeGreaterThan(2.5);
    expect(recovering.stats.requests).toBe(2);
    expect(await workerCounter('openai_proxy_worker_capacity_delays_total')).toBe(delaysBefore + 1);
    expect(await workerCounter('openai_proxy_worker_upstream_429s_absorbed_total')).toBe(absorbedBefore + 1);
  }, 30_000);
});

describe('a group at its limit past the request deadline', () => {
  it('answers 429 at once with the Retry-After the upstream gave, and then calls no upstream', async () => {
    const gateway = await stack.addGateway({ run: 'process', env: { REQUEST_TIMEOUT_MS: '5000' } });
    const first = await ask(gateway, 'key-a', 'saturated', 'first');
    expect(first.status).toBe(429);
    expect(first.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
    expect(Number(first.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(saturated.map((upstream) => upstream.stats.requests)).toEqual([1, 1]);

    const started = Date.now();
    const second = await ask(gateway, 'key-b', 'saturated', 'second');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
    // What the upstreams said is known to every worker: nobody asks them again before then.
    expect(saturated.map((upstream) => upstream.stats.requests)).toEqual([1, 1]);
    // The first request's first 429 was tried again elsewhere; the two requests were refused.
    expect(await workerCounter('openai_proxy_worker_upstream_429s_absorbed_total')).toBeGreaterThanOrEqual(2);
    expect(await workerCounter('openai_proxy_worker_capacity_refusals_total')).toBe(2);
    for (const upstream of saturated) {
      const seen = (await statusUpstreams()).find((entry) => entry.label === new URL(upstream.url).host);
      expect(seen?.capacity?.retryInMs).toBeGreaterThan(50_000);
    }
  }, 30_000);
});

describe('streams to a group with limits', () => {
  it('wait at the gateway for room (STREAM_CAPACITY_WAIT_MS), then stream byte for byte', async () => {
    const gateway = await stack.addGateway({ run: 'process', env: { STREAM_CAPACITY_WAIT_MS: '5000' } });
    const refusedBefore = limited.map((upstream) => upstream.stats.rateLimited);
    const callsBefore = limited.map((upstream) => upstream.stats.requests);
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        postJson(
          `${gateway.url}/v1/chat/completions`,
          { model: 'limited', stream: true, messages: [{ role: 'user', content: `stream ${i}` }] },
          { authorization: `Bearer ${KEYS[i % 3]}` },
        ),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    answers.forEach((answer, i) => {
      expect(streamedText(answer.text)).toBe(`echo: stream ${i}`);
      expect(answer.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    });
    // Each stream was one admitted upstream call, and no upstream passed its limit. The gateway
    // counts a second from when it sends, the provider from when a call arrives: a call slowed on
    // its way can land in the provider's next window beside that window's full share, be refused,
    // and be sent again once there is room (as in the burst above, a window edge's refusal).
    const sum = (counts: number[]) => counts.reduce((total, n) => total + n, 0);
    const calls = sum(limited.map((upstream, i) => upstream.stats.requests - (callsBefore[i] ?? 0)));
    const refused = sum(limited.map((upstream, i) => upstream.stats.rateLimited - (refusedBefore[i] ?? 0)));
    expect(calls - refused).toBe(40);
    expect(refused).toBeLessThanOrEqual(2);
    for (const upstream of limited)
      expect(upstream.stats.peakPerWindow).toBeLessThanOrEqual(LIMIT_PER_SECOND);
    // 40 streams at 20 a second: the second half waited for the next second's room.
    expect(seconds).toBeGreaterThan(0.9);
  }, 30_000);

  it('get the 429 at once when room comes later than they may wait, with the computed Retry-After', async () => {
    // The saturated upstreams said `retry-after: 60` in the test above: every gateway knows.
    const callsBefore = saturated.map((upstream) => upstream.stats.requests);
    const started = Date.now();
    const answer = await postJson(
      `${stack.gateways.one.url}/v1/chat/completions`,
      { model: 'saturated', stream: true, messages: [{ role: 'user', content: 'now?' }] },
      { authorization: 'Bearer key-c' },
    );
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(answer.status).toBe(429);
    expect(answer.json.error).toMatchObject({ code: 'rate_limit_exceeded' });
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(50);
    expect(saturated.map((upstream, i) => upstream.stats.requests - (callsBefore[i] ?? 0))).toEqual([0, 0]);
  });
});

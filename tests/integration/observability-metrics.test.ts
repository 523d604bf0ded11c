import { readFile } from 'node:fs/promises';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, type Stack, startStack } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasPromtool,
  parseScrape,
  promtoolCheckMetrics,
  type Scrape,
  scrape,
} from './support/prometheus-scrape.js';

// Issue 6: after a known mix of requests (folded, streamed, upstream errors, refused, rate
// limited, cancelled), both /metrics endpoints hold exactly the expected counts; the worker
// endpoint sums its two children; labels stay bounded; the output passes a real Prometheus
// parser (and promtool where installed); the dashboard uses metrics that exist.

const CHAT_SSE = [
  { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
  { choices: [{ index: 0, delta: { content: 'observed' }, finish_reason: null }] },
  { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
  { choices: [], usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 } },
]
  .map((chunk) => {
    const full = {
      id: 'chatcmpl-obs',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'obs-chat',
      ...chunk,
    };
    return `data: ${JSON.stringify(full)}\n\n`;
  })
  .join('')
  .concat('data: [DONE]\n\n');
const CHAT_CHUNKS = 4;

const TEXT_SSE = [
  { choices: [{ text: 'observed', index: 0, logprobs: null, finish_reason: null }] },
  { choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] },
  { choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } },
]
  .map((chunk) => {
    const full = { id: 'cmpl-obs', object: 'text_completion', created: 1, model: 'obs-text', ...chunk };
    return `data: ${JSON.stringify(full)}\n\n`;
  })
  .join('')
  .concat('data: [DONE]\n\n');
const TEXT_CHUNKS = 3;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

let stack: Stack;
let upstream: MockUpstream;
let queueGateway: AppProcess;
let worker: AppProcess;
let standaloneGateway: AppProcess;
let upstreamLabel: string;
const requestIds: string[] = [];
const runId = `${process.pid}-${Date.now()}`;

const client = (gateway: AppProcess) =>
  new OpenAI({ apiKey: 'sk-obs-client', baseURL: `${gateway.url}/v1`, maxRetries: 0 });

/** A fresh request id, remembered so the label scan can look for it. */
function nextId(name: string): string {
  const id = `obs-${name}-${runId}-${requestIds.length}`;
  requestIds.push(id);
  return id;
}

const logLine = (id: string, message: string) => new RegExp(`"requestId":"${id}".*"msg":"${message}"`);

/** Waits until the gateway logged the request and, for a queued one, the worker logged its job. */
async function settled(id: string, queued: boolean): Promise<void> {
  await queueGatewayOrStandalone(id).waitForOutput(logLine(id, 'request'));
  if (queued) await worker.waitForOutput(logLine(id, 'job'));
}
const standaloneIds = new Set<string>();
const queueGatewayOrStandalone = (id: string) => (standaloneIds.has(id) ? standaloneGateway : queueGateway);

async function postRaw(gateway: AppProcess, id: string, body: unknown, signal?: AbortSignal) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    // The SDK's key: the rate limit counts per key, so raw and SDK requests share one allowance.
    headers: {
      'content-type': 'application/json',
      'x-request-id': id,
      authorization: 'Bearer sk-obs-client',
    },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const answers: Record<string, number> = {};
let spreadPids: Set<number>;

/** The known mix, sent once; each step waits until both processes logged it, so counts are final. */
async function sendMix(): Promise<void> {
  // Two jobs at once on two children with concurrency 1: both hang at the upstream, so the mock
  // seeing both proves they run in different processes. Their clients then leave.
  upstream.enqueue({ kind: 'hang' }, { kind: 'hang' });
  const leaving = [new AbortController(), new AbortController()];
  const spreadIds = [nextId('spread'), nextId('spread')];
  const spread = spreadIds.map((id, index) =>
    postRaw(
      queueGateway,
      id,
      { model: 'obs-chat', messages: [{ role: 'user', content: 'hang' }] },
      leaving[index]?.signal,
    ).catch((error: unknown) => error),
  );
  await upstream.waitForRequests(2);
  for (const controller of leaving) controller.abort();
  await Promise.all(spread);
  await upstream.waitForAborted(2);
  const spreadLines = await Promise.all(
    spreadIds.map((id) => worker.waitForOutput(new RegExp(`"requestId":"${id}".*"outcome":"cancelled"`))),
  );
  spreadPids = new Set(spreadLines.map((line) => (JSON.parse(line) as { pid: number }).pid));
  for (const id of spreadIds) await queueGateway.waitForOutput(logLine(id, 'request'));

  upstream.setDefault({ kind: 'replay', sse: CHAT_SSE });
  // Three folded chat answers through the queue.
  for (let i = 0; i < 3; i += 1) {
    const id = nextId('chat');
    const completion = await client(queueGateway).chat.completions.create(
      { model: 'obs-chat', messages: [{ role: 'user', content: `hello ${i}` }] },
      { headers: { 'x-request-id': id } },
    );
    expect(completion.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 5 });
    await settled(id, true);
  }
  // One legacy text completion through the queue.
  upstream.enqueue({ kind: 'replay', sse: TEXT_SSE });
  const textId = nextId('text');
  const text = await client(queueGateway).completions.create(
    { model: 'obs-text', prompt: 'hello' },
    { headers: { 'x-request-id': textId } },
  );
  expect(text.choices[0]?.text).toBe('observed');
  await settled(textId, true);
  // One stream, piped by the gateway itself (no job, no token count: the bytes pass untouched).
  const streamId = nextId('stream');
  const stream = await client(queueGateway).chat.completions.create(
    { model: 'obs-chat', messages: [{ role: 'user', content: 'stream' }], stream: true },
    { headers: { 'x-request-id': streamId } },
  );
  for await (const _chunk of stream) {
    // Drain it.
  }
  await settled(streamId, false);
  // Upstream failures, relayed with their status: a client error and a server error.
  for (const status of [400, 500]) {
    upstream.enqueue({ kind: 'status', status });
    const id = nextId(`status-${status}`);
    const response = await postRaw(queueGateway, id, {
      model: 'obs-chat',
      messages: [{ role: 'user', content: `fail ${status}` }],
    });
    answers[id] = response.status;
    await response.text();
    await settled(id, true);
  }
  // A body the gateway refuses itself (no messages): rejected, never queued.
  const invalidId = nextId('invalid');
  const invalid = await postRaw(queueGateway, invalidId, { model: 'obs-chat' });
  answers[invalidId] = invalid.status;
  await invalid.text();
  await settled(invalidId, false);
  // Standalone mode, allowed two requests per window: two folded answers, then a 429.
  for (let i = 0; i < 2; i += 1) {
    const id = nextId('standalone');
    standaloneIds.add(id);
    await client(standaloneGateway).chat.completions.create(
      { model: 'obs-chat', messages: [{ role: 'user', content: `standalone ${i}` }] },
      { headers: { 'x-request-id': id } },
    );
    await settled(id, false);
  }
  const limitedId = nextId('limited');
  standaloneIds.add(limitedId);
  const limited = await postRaw(standaloneGateway, limitedId, {
    model: 'obs-chat',
    messages: [{ role: 'user', content: 'one too many' }],
  });
  answers[limitedId] = limited.status;
  await limited.text();
  await settled(limitedId, false);
}

let queueScrape: Scrape;
let workerScrape: Scrape;
let standaloneScrape: Scrape;

beforeAll(async () => {
  // Processes: the scrapes include each process's own metrics and the worker farm's children.
  const started = await startStack({
    redis: true,
    upstreams: ['obs'],
    env: {
      QUEUE_PREFIX: `{test-${process.pid}-obs-metrics}`,
      // A 500 must not take the only upstream out of rotation for the requests after it.
      UPSTREAM_COOLDOWN_MS: '0',
    },
    gateways: {
      queue: { run: 'process' },
      standalone: {
        run: 'process',
        standalone: true,
        env: { RATE_LIMIT_REQUESTS: '2', RATE_LIMIT_WINDOW_SECONDS: '3600' },
      },
    },
    workers: { farm: { env: { WORKER_PROCESSES: '2', WORKER_CONCURRENCY: '1' } } },
  });
  stack = started;
  upstream = started.upstreams.obs;
  upstreamLabel = new URL(upstream.url).host;
  ({ queue: queueGateway, standalone: standaloneGateway } = started.gateways);
  worker = started.workers.farm;
  // Both children must be taking jobs before the spread test relies on them.
  const first = JSON.parse(await worker.waitForOutput('"msg":"worker ready"')) as { pid: number };
  await worker.waitForOutput(new RegExp(`"pid":(?!${first.pid}\\b)\\d+.*"msg":"worker ready"`));
  await sendMix();
  [queueScrape, workerScrape, standaloneScrape] = await Promise.all([
    scrape(`${queueGateway.url}/metrics`),
    scrape(`${worker.url}/metrics`),
    scrape(`${standaloneGateway.url}/metrics`),
  ]);
}, 60_000);

afterAll(() => stack?.stop());

describe('the gateway /metrics after the mix (queue mode)', () => {
  const http = 'openai_proxy_http_requests_total';
  const chat = { route: '/v1/chat/completions', method: 'POST' };

  it('counts requests by route, method and status', () => {
    expect(Object.values(answers).sort((a, b) => a - b)).toEqual([400, 400, 429, 500]);
    expect(queueScrape.value(http, { ...chat, status: '200' })).toBe(4);
    // One relayed from the upstream, one refused by the gateway's own body check.
    expect(queueScrape.value(http, { ...chat, status: '400' })).toBe(2);
    expect(queueScrape.value(http, { ...chat, status: '500' })).toBe(1);
    expect(queueScrape.value(http, { ...chat, status: 'aborted' })).toBe(2);
    expect(queueScrape.value(http, { route: '/v1/completions', method: 'POST', status: '200' })).toBe(1);
    expect(queueScrape.sum(http, { route: '/v1/chat/completions' })).toBe(9);
    expect(
      queueScrape.histogramCount('openai_proxy_http_request_duration_seconds', { ...chat, status: '200' }),
    ).toBe(4);
    // Only the scrape itself is in flight.
    expect(queueScrape.value('openai_proxy_http_requests_in_flight')).toBe(1);
  });

  it('counts the request it refused itself as rejected, not the upstream’s 400', () => {
    expect(queueScrape.value('openai_proxy_rejected_requests_total', { reason: 'invalid_request' })).toBe(1);
    expect(queueScrape.sum('openai_proxy_rejected_requests_total')).toBe(1);
  });

  it('counts its own upstream calls (the stream) and times their first byte', () => {
    expect(
      queueScrape.value('openai_proxy_upstream_requests_total', {
        upstream: upstreamLabel,
        outcome: 'success',
      }),
    ).toBe(1);
    expect(queueScrape.sum('openai_proxy_upstream_requests_total')).toBe(1);
    expect(
      queueScrape.histogramCount('openai_proxy_upstream_first_byte_seconds', { upstream: upstreamLabel }),
    ).toBe(1);
  });

  it('times the queue wait of every answered job and the end-to-end time of every queued request', () => {
    expect(queueScrape.histogramCount('openai_proxy_queue_wait_seconds')).toBe(6);
    const queued = 'openai_proxy_queued_request_duration_seconds';
    expect(queueScrape.histogramCount(queued, { status: '200' })).toBe(4);
    expect(queueScrape.histogramCount(queued, { status: '400' })).toBe(1);
    expect(queueScrape.histogramCount(queued, { status: '500' })).toBe(1);
    expect(queueScrape.histogramCount(queued, { status: 'aborted' })).toBe(2);
  });

  it('counts prompt and completion tokens by model, from the workers’ results', () => {
    const tokens = 'openai_proxy_tokens_total';
    expect(queueScrape.value(tokens, { model: 'obs-chat', type: 'prompt' })).toBe(3 * 7);
    expect(queueScrape.value(tokens, { model: 'obs-chat', type: 'completion' })).toBe(3 * 5);
    expect(queueScrape.value(tokens, { model: 'obs-text', type: 'prompt' })).toBe(4);
    expect(queueScrape.value(tokens, { model: 'obs-text', type: 'completion' })).toBe(2);
    expect(queueScrape.family(tokens)?.metrics).toHaveLength(4);
  });

  it('samples the queue depth by state at scrape time', () => {
    for (const state of ['waiting', 'active', 'delayed', 'failed'])
      expect(queueScrape.value('openai_proxy_queue_jobs', { state })).toBe(0);
  });

  it('carries the default process metrics', () => {
    // Unprefixed, as the ecosystem's Node.js dashboards query them.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_gc_duration_seconds',
      'nodejs_active_handles',
    ])
      expect(queueScrape.family(name), name).toBeDefined();
    expect(queueScrape.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    // prom-client's gauges named like counters are left out: their sums are the by-type gauges.
    expect(queueScrape.family('nodejs_active_handles_total')).toBeUndefined();
  });
});

describe('the worker farm /metrics after the mix (two children, summed by the primary)', () => {
  it('ran the two concurrent jobs in two different children', () => {
    expect(spreadPids.size).toBe(2);
    expect(spreadPids.has(worker.child.pid ?? -1)).toBe(false);
  });

  it('counts every job once, by outcome, summed over the children', () => {
    const jobs = 'openai_proxy_worker_jobs_total';
    expect(workerScrape.value(jobs, { outcome: 'success' })).toBe(4);
    expect(workerScrape.value(jobs, { outcome: 'upstream_error' })).toBe(2);
    expect(workerScrape.value(jobs, { outcome: 'cancelled' })).toBe(2);
    expect(workerScrape.sum(jobs)).toBe(8);
    const duration = 'openai_proxy_worker_job_duration_seconds';
    expect(workerScrape.histogramCount(duration, { outcome: 'success' })).toBe(4);
    expect(workerScrape.histogramCount(duration, { outcome: 'cancelled' })).toBe(2);
  });

  it('counts upstream calls by outcome, folded chunks, tokens, and no job left active', () => {
    const calls = 'openai_proxy_worker_upstream_requests_total';
    expect(workerScrape.value(calls, { upstream: upstreamLabel, outcome: 'success' })).toBe(4);
    expect(workerScrape.value(calls, { upstream: upstreamLabel, outcome: 'client_error' })).toBe(1);
    expect(workerScrape.value(calls, { upstream: upstreamLabel, outcome: 'server_error' })).toBe(1);
    expect(workerScrape.sum(calls)).toBe(6);
    expect(
      workerScrape.histogramCount('openai_proxy_worker_upstream_first_byte_seconds', {
        upstream: upstreamLabel,
      }),
    ).toBe(6);
    expect(workerScrape.value('openai_proxy_worker_chunks_folded_total')).toBe(3 * CHAT_CHUNKS + TEXT_CHUNKS);
    expect(
      workerScrape.value('openai_proxy_worker_tokens_total', { model: 'obs-chat', type: 'prompt' }),
    ).toBe(21);
    expect(
      workerScrape.value('openai_proxy_worker_tokens_total', { model: 'obs-text', type: 'completion' }),
    ).toBe(2);
    expect(workerScrape.value('openai_proxy_worker_active_jobs')).toBe(0);
    expect(workerScrape.value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('answers /health on the metrics port', async () => {
    const response = await fetch(`${worker.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', pid: worker.child.pid });
  });
});

describe('the gateway /metrics in standalone mode (two requests allowed per window)', () => {
  const chat = { route: '/v1/chat/completions', method: 'POST' };

  it('counts the folded answers and the rate-limited request', () => {
    const http = 'openai_proxy_http_requests_total';
    expect(standaloneScrape.value(http, { ...chat, status: '200' })).toBe(2);
    expect(standaloneScrape.value(http, { ...chat, status: '429' })).toBe(1);
    expect(standaloneScrape.value('openai_proxy_rejected_requests_total', { reason: 'rate_limited' })).toBe(
      1,
    );
    expect(standaloneScrape.sum('openai_proxy_rejected_requests_total')).toBe(1);
  });

  it('counts the folded answers’ tokens and upstream calls, and has no queue series', () => {
    const tokens = 'openai_proxy_tokens_total';
    expect(standaloneScrape.value(tokens, { model: 'obs-chat', type: 'prompt' })).toBe(2 * 7);
    expect(standaloneScrape.value(tokens, { model: 'obs-chat', type: 'completion' })).toBe(2 * 5);
    const calls = 'openai_proxy_upstream_requests_total';
    expect(standaloneScrape.value(calls, { upstream: upstreamLabel, outcome: 'success' })).toBe(2);
    expect(standaloneScrape.sum(calls)).toBe(2);
    expect(standaloneScrape.histogramCount('openai_proxy_queue_wait_seconds')).toBe(0);
    expect(standaloneScrape.family('openai_proxy_queued_request_duration_seconds_count')).toBeUndefined();
    expect(standaloneScrape.family('openai_proxy_queue_jobs')?.metrics).toEqual([]);
  });
});

describe('names and labels', () => {
  const all = () => [queueScrape, workerScrape, standaloneScrape];

  it('never carries a request id, a UUID or a key in a label value', () => {
    const values = all().flatMap((entry) => entry.labelValues());
    expect(values.length).toBeGreaterThan(50);
    for (const { family, label, value } of values) {
      expect(UUID.test(value), `${family}{${label}="${value}"}`).toBe(false);
      expect(value.includes('sk-'), `${family}{${label}="${value}"}`).toBe(false);
      for (const id of requestIds) expect(value.includes(id), `${family}{${label}="${value}"}`).toBe(false);
    }
  });

  it('keeps every label set small', () => {
    for (const entry of all()) {
      const distinct = new Map<string, Set<string>>();
      for (const { family, label, value } of entry.labelValues()) {
        if (label === 'le') continue;
        const key = `${family}/${label}`;
        distinct.set(key, (distinct.get(key) ?? new Set()).add(value));
      }
      for (const [key, values] of distinct) expect(values.size, key).toBeLessThanOrEqual(20);
    }
  });

  it('follows the conventions: our counters end in _total, histograms are in seconds, all have help', () => {
    for (const entry of all()) {
      const ours = [...entry.declared].filter(([name]) => name.startsWith('openai_proxy_'));
      expect(ours.length).toBeGreaterThan(5);
      for (const [name, type] of ours) {
        if (type === 'counter') expect(name).toMatch(/_total$/);
        if (type === 'histogram') expect(name).toMatch(/_seconds$/);
        expect(entry.family(name)?.help, name).not.toBe('');
      }
    }
  });

  it('is valid exposition text: the npm parser reads every declared family, promtool (if installed) agrees', async () => {
    for (const entry of all()) {
      // The parser threw in beforeAll on any malformed line; here every declared family must be read.
      for (const name of entry.declared.keys()) expect(entry.family(name), name).toBeDefined();
      expect(parseScrape(entry.text).families.length).toBe(entry.families.length);
    }
    if (!(await hasPromtool())) {
      console.info('promtool is not installed: checked with parse-prometheus-text-format only');
      return;
    }
    for (const entry of all()) {
      const { code, output } = await promtoolCheckMetrics(entry.text);
      // 0: clean; 3 would be lint findings, 1 a parse error.
      expect({ code, output: output.trim() }).toEqual({ code: 0, output: '' });
    }
  });
});

describe('deploy files', () => {
  it('the Grafana dashboard only queries metrics the processes export', async () => {
    const dashboard = JSON.parse(
      await readFile(new URL('../../deploy/grafana/dashboards/openai-proxy.json', import.meta.url), 'utf8'),
    ) as { panels: { targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const exported = new Set(
      [queueScrape, workerScrape].flatMap((entry) => entry.families.map((family) => family.name)),
    );
    const used = new Set(exprs.flatMap((expr) => expr.match(/\b(openai_proxy|process|nodejs)_\w+/g) ?? []));
    for (const name of used) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect(exported.has(name) || exported.has(family), name).toBe(true);
    }
  });

  it('prometheus.yml scrapes the gateway and the worker services', async () => {
    const config = await readFile(new URL('../../deploy/prometheus.yml', import.meta.url), 'utf8');
    expect(config).toMatch(/names: \[gateway\][\s\S]*port: 3000/);
    expect(config).toMatch(/names: \[worker\][\s\S]*port: 9464/);
  });
});

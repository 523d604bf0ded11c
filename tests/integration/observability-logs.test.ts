import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 6: JSON logs with one line per request (request id accepted and returned) and one per
// job carrying the same id, and the per-process stats line of the original tool. Processes: what
// is tested is what each one prints on stdout.

let stack: Stack;
let upstream: MockUpstream;
let gateway: AppProcess;
let worker: AppProcess;
const runId = `${process.pid}-${Date.now()}`;

beforeAll(async () => {
  const started = await startStack({
    redis: true,
    upstreams: ['logs'],
    env: {
      QUEUE_PREFIX: `{test-${process.pid}-obs-logs}`,
      UPSTREAM_COOLDOWN_MS: '0',
      // Every second, so the test sees a line soon; what it waits for is the line itself.
      STATS_INTERVAL_SECONDS: '1',
    },
    gateways: { main: { run: 'process' } },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
  stack = started;
  upstream = started.upstreams.logs;
  gateway = started.gateways.main;
  worker = started.workers.farm;
});

afterAll(() => stack?.stop());

const post = (content: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] }),
  });

const lineOf = (app: AppProcess, pattern: RegExp) =>
  app.waitForOutput(pattern).then((line) => JSON.parse(line) as Record<string, unknown>);

describe('request and job log lines', () => {
  it('accepts x-request-id, returns it, and logs it on the gateway’s line and the worker’s job line', async () => {
    const id = `obs-log-${runId}`;
    const response = await post('hello', { 'x-request-id': id });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe(id);
    await response.text();
    const request = await lineOf(gateway, new RegExp(`"requestId":"${id}".*"msg":"request"`));
    expect(request).toMatchObject({
      requestId: id,
      method: 'POST',
      path: '/v1/chat/completions',
      status: '200',
      mode: 'queue',
      upstream: new URL(upstream.url).host,
    });
    expect(request.durationMs).toEqual(expect.any(Number));
    expect(request.queueWaitMs).toEqual(expect.any(Number));
    const job = await lineOf(worker, new RegExp(`"requestId":"${id}".*"msg":"job"`));
    expect(job).toMatchObject({ requestId: id, outcome: 'success', status: 200, kind: 'chat' });
  });

  it('replaces an unusable x-request-id with its own and returns that one', async () => {
    const response = await post('bad id', { 'x-request-id': 'not a token!' });
    await response.text();
    const id = response.headers.get('x-request-id') ?? '';
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await lineOf(gateway, new RegExp(`"requestId":"${id}".*"msg":"request"`))).toMatchObject({
      status: '200',
    });
  });

  it('writes JSON lines, never pretty output, unless LOG_PRETTY is set', () => {
    for (const line of [...gateway.output, ...worker.output])
      expect(() => JSON.parse(line), line).not.toThrow();
  });
});

describe('the stats line', () => {
  it('reports requests, errors, RSS and heap per process: the gateway and each worker child', async () => {
    // Two requests above, then an upstream failure and a success: totals of 4 requests (1 error)
    // on the gateway and 4 jobs (1 failed) on the worker child; the probe is not counted.
    upstream.enqueue({ kind: 'status', status: 500 });
    const failed = await post('fail');
    expect(failed.status).toBe(500);
    await failed.text();
    expect((await post('again')).status).toBe(200);
    await fetch(`${gateway.url}/health`);

    const gatewayStats = await lineOf(gateway, /"totalRequests":4,"totalErrors":1\b/);
    expect(gatewayStats.stats).toMatchObject({ intervalSeconds: 1, totalRequests: 4, totalErrors: 1 });
    const memory = gatewayStats.stats as Record<string, number>;
    expect(memory.rssBytes).toBeGreaterThan(memory.heapUsedBytes ?? 0);
    expect(memory.heapUsedBytes).toBeGreaterThan(0);
    expect(gatewayStats.msg).toMatch(
      /^stats: \d+ requests, \d+ errors in 1 s; rss [\d.]+ MB, heap [\d.]+\/[\d.]+ MB$/,
    );

    const workerStats = await lineOf(worker, /"totalRequests":4,"totalErrors":1\b/);
    expect(workerStats.pid).not.toBe(worker.child.pid);
    expect(workerStats.stats).toMatchObject({ totalRequests: 4, totalErrors: 1 });
  });
});

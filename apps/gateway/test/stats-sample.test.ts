import { Writable } from 'node:stream';
import { createLogger, startStatsLine } from '@openai-proxy/shared';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGatewayMetrics } from '../src/observability/gateway-metrics.js';
import { gatewayStatsSample } from '../src/observability/stats-sample.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'info', destination }) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the gateway stats line', () => {
  it('logs the requests and errors of each interval and the totals, with RSS and heap', async () => {
    vi.useFakeTimers();
    const { lines, logger } = capture();
    const metrics = createGatewayMetrics(new Registry(), { defaultMetrics: false });
    const stats = startStatsLine({ logger, intervalSeconds: 30, sample: gatewayStatsSample(metrics) });
    const chat = { route: '/v1/chat/completions', method: 'POST' };
    metrics.httpRequests.inc({ ...chat, status: '200' }, 5);
    metrics.httpRequests.inc({ ...chat, status: '502' });
    metrics.httpRequests.inc({ route: '/health', method: 'GET', status: '200' }, 9);
    await vi.advanceTimersByTimeAsync(30_000);
    metrics.httpRequests.inc({ ...chat, status: '500' });
    await vi.advanceTimersByTimeAsync(30_000);
    stats.stop();
    await vi.advanceTimersByTimeAsync(60_000);

    expect(lines.map((line) => line.stats)).toEqual([
      expect.objectContaining({
        requests: 6,
        errors: 1,
        totalRequests: 6,
        totalErrors: 1,
        intervalSeconds: 30,
      }),
      expect.objectContaining({ requests: 1, errors: 1, totalRequests: 7, totalErrors: 2 }),
    ]);
    const first = lines[0]?.stats as Record<string, number>;
    expect(first.rssBytes).toBeGreaterThan(0);
    expect(first.heapUsedBytes).toBeGreaterThan(0);
    expect(first.heapTotalBytes).toBeGreaterThanOrEqual(first.heapUsedBytes ?? 0);
    expect(lines[0]?.msg).toMatch(
      /^stats: 6 requests, 1 errors in 30 s; rss [\d.]+ MB, heap [\d.]+\/[\d.]+ MB$/,
    );
  });
});

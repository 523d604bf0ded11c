import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/observability/logger.js';
import { startStatsLine } from '../src/observability/stats-line.js';

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

describe('the stats line', () => {
  it('starts no timer when the interval is 0', async () => {
    vi.useFakeTimers();
    const { lines, logger } = capture();
    startStatsLine({ logger, intervalSeconds: 0, sample: async () => ({ requests: 1, errors: 0 }) });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(lines).toEqual([]);
  });
});

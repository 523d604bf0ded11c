import type { Logger } from 'pino';
import type { Counter } from 'prom-client';

/** Totals since the process started. */
export interface StatsTotals {
  requests: number;
  errors: number;
}

export interface StatsLineOptions {
  logger: Logger;
  /** Seconds between two lines; 0 starts nothing. */
  intervalSeconds: number;
  /** Reads the totals, typically from the process's own metrics, so nothing is counted twice. */
  sample(): Promise<StatsTotals>;
}

export interface StatsLine {
  /** Clears the timer; safe to call more than once. */
  stop(): void;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => (bytes / MB).toFixed(1);

/**
 * The original tool's periodic line for people who read logs: requests and errors since the
 * previous line (and since start), resident memory and heap. One per process, on a timer that
 * never keeps the process alive.
 */
export function startStatsLine(options: StatsLineOptions): StatsLine {
  if (options.intervalSeconds <= 0) return { stop() {} };
  let previous: StatsTotals = { requests: 0, errors: 0 };
  const log = async () => {
    const totals = await options.sample();
    const memory = process.memoryUsage();
    const requests = totals.requests - previous.requests;
    const errors = totals.errors - previous.errors;
    previous = totals;
    options.logger.info(
      {
        stats: {
          intervalSeconds: options.intervalSeconds,
          requests,
          errors,
          totalRequests: totals.requests,
          totalErrors: totals.errors,
          rssBytes: memory.rss,
          heapUsedBytes: memory.heapUsed,
          heapTotalBytes: memory.heapTotal,
        },
      },
      `stats: ${requests} requests, ${errors} errors in ${options.intervalSeconds} s; ` +
        `rss ${mb(memory.rss)} MB, heap ${mb(memory.heapUsed)}/${mb(memory.heapTotal)} MB`,
    );
  };
  const timer = setInterval(() => {
    log().catch((error: unknown) => options.logger.warn({ err: error }, 'could not write the stats line'));
  }, options.intervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The sum of a counter's series whose labels `include` accepts, for a stats sample. */
export async function counterSum<T extends string>(
  counter: Counter<T>,
  include: (labels: Partial<Record<T, string | number>>) => boolean,
): Promise<number> {
  const { values } = await counter.get();
  return values.reduce((sum, sample) => (include(sample.labels) ? sum + sample.value : sum), 0);
}

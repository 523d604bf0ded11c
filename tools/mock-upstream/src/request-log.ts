import type { MockRequestRecord, MockUpstreamStats } from './types.js';

const MAX_RECORDS = 1000;
const DEFAULT_WAIT_MS = 5000;

interface Waiter {
  ready(): boolean;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Request records, live counters, and promises that settle when a counter reaches a value. */
export class RequestLog {
  readonly stats: MockUpstreamStats = {
    requests: 0,
    aborted: 0,
    completed: 0,
    byPath: {},
    rateLimited: 0,
    peakPerWindow: 0,
  };
  readonly requests: MockRequestRecord[] = [];
  private readonly waiters = new Set<Waiter>();

  add(record: MockRequestRecord): void {
    this.requests.push(record);
    if (this.requests.length > MAX_RECORDS) this.requests.shift();
    this.stats.requests++;
    this.stats.byPath[record.path] = (this.stats.byPath[record.path] ?? 0) + 1;
    this.notify();
  }

  markAborted(record: MockRequestRecord): void {
    if (record.aborted || record.completed) return;
    record.aborted = true;
    this.stats.aborted++;
    this.notify();
  }

  markCompleted(record: MockRequestRecord): void {
    if (record.aborted || record.completed) return;
    record.completed = true;
    this.stats.completed++;
    this.notify();
  }

  /** One call admitted by the rate limit, the `admittedInWindow`-th of its window. */
  countAdmitted(admittedInWindow: number): void {
    this.stats.peakPerWindow = Math.max(this.stats.peakPerWindow, admittedInWindow);
  }

  /** One call refused with 429 by the rate limit. */
  countRateLimited(): void {
    this.stats.rateLimited++;
  }

  waitFor(what: 'requests' | 'aborted', n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const ready = (): boolean => this.stats[what] >= n;
    if (ready()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        ready,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new Error(
              `mock upstream: timed out after ${timeoutMs} ms waiting for ${what} >= ${n} (now ${this.stats[what]})`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Rejects every pending wait (used by close). */
  rejectAll(error: Error): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters.clear();
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    for (const waiter of this.waiters) {
      if (!waiter.ready()) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }
}

import type { ErrorDialect } from '@openai-proxy/shared';
import { Deadlines } from './deadlines.js';
import type { CompletedAnswer } from './non-stream-completer.js';

interface Waiter {
  resolve(answer: CompletedAnswer): void;
  reject(error: unknown): void;
  createdAt: number;
  /** The shape of the error this waiter gets if it ends without an answer. */
  errorDialect: ErrorDialect;
  /** Its job is in the queue (the add returned): from then on a missing job is a lost one. */
  queued: boolean;
}

/** What an expiring waiter needs to be answered: its id, its timeout, the shape of its error. */
export type OnExpire = (jobId: string, timeoutMs: number, errorDialect: ErrorDialect) => void;

/**
 * The requests of one gateway waiting for their jobs' answers, each with its deadline. Every
 * waiter ends exactly once: answered, refused, or expired, so the map cannot grow unbounded.
 * Kept in arrival order, so the oldest come first.
 */
export class Waiters {
  private readonly pending = new Map<string, Waiter>();
  private readonly deadlines: Deadlines<string>;

  constructor(onExpire: OnExpire) {
    this.deadlines = new Deadlines<string>((jobId, timeoutMs) => {
      const waiter = this.pending.get(jobId);
      if (waiter !== undefined) onExpire(jobId, timeoutMs, waiter.errorDialect);
    });
  }

  get size(): number {
    return this.pending.size;
  }

  /** Waits for `jobId`'s answer until `timeoutMs` after `acceptedAt`. */
  add(
    jobId: string,
    errorDialect: ErrorDialect,
    timeoutMs: number,
    acceptedAt: number,
  ): Promise<CompletedAnswer> {
    const answer = new Promise<CompletedAnswer>((resolve, reject) => {
      this.pending.set(jobId, { resolve, reject, createdAt: acceptedAt, errorDialect, queued: false });
    });
    this.deadlines.add(jobId, timeoutMs, acceptedAt);
    return answer;
  }

  markQueued(jobId: string): void {
    const waiter = this.pending.get(jobId);
    if (waiter !== undefined) waiter.queued = true;
  }

  /** Ends the waiter with its answer; false when nobody waited for it (any more). */
  resolve(jobId: string, answer: CompletedAnswer): boolean {
    const waiter = this.take(jobId);
    waiter?.resolve(answer);
    return waiter !== undefined;
  }

  /** Ends the waiter with an error; false when nobody waited for it. */
  reject(jobId: string, error: unknown): boolean {
    const waiter = this.take(jobId);
    waiter?.reject(error);
    return waiter !== undefined;
  }

  /** Ends every waiter whose job is in the queue with `error`; returns their job ids. */
  rejectQueued(error: unknown): string[] {
    const ended = this.queuedIds();
    for (const jobId of ended) this.reject(jobId, error);
    return ended;
  }

  /** Ends every waiter with `error`. */
  rejectAll(error: unknown): void {
    for (const jobId of [...this.pending.keys()]) this.reject(jobId, error);
    this.deadlines.clear();
  }

  /** The jobs in the queue whose answers are still awaited. */
  queuedIds(): string[] {
    const ids: string[] = [];
    for (const [jobId, waiter] of this.pending) if (waiter.queued) ids.push(jobId);
    return ids;
  }

  /** The jobs awaited for at least `minAgeMs`. */
  olderThan(minAgeMs: number, now = Date.now()): string[] {
    const ids: string[] = [];
    for (const [jobId, waiter] of this.pending) {
      // In arrival order: the rest are younger still.
      if (now - waiter.createdAt < minAgeMs) break;
      ids.push(jobId);
    }
    return ids;
  }

  private take(jobId: string): Waiter | undefined {
    const waiter = this.pending.get(jobId);
    if (waiter === undefined) return undefined;
    this.pending.delete(jobId);
    this.deadlines.remove(jobId);
    return waiter;
  }
}

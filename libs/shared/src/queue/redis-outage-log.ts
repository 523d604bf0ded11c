import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/** While Redis stays away, one line per this interval. */
export const OUTAGE_LOG_INTERVAL_MS = 10_000;

/**
 * What a process says while Redis is away. Every connection (and BullMQ's queue on top of one)
 * reports each failed reconnect attempt, several a second together; a stack trace of
 * `ECONNREFUSED` tells an operator nothing the first line did not. So: one warning when the first
 * connection fails, then one line per interval with how many failures it saw, and one line when
 * every connection is back. Messages only, no stacks; each failure is a debug line.
 */
export class RedisOutageLog {
  private readonly down = new Set<string>();
  private since = 0;
  private lastLineAt = 0;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = OUTAGE_LOG_INTERVAL_MS,
  ) {}

  /** Follows one connection (or a BullMQ queue or worker), under the name of its role. */
  watch(source: Pick<EventEmitter, 'on'>, role: string): void {
    source.on('error', (error: unknown) => this.failed(role, error));
    source.on('ready', () => this.recovered(role));
  }

  /** Whether a failure is being reported now. */
  get outage(): boolean {
    return this.down.size > 0;
  }

  /** A failure reported by something that shares the connection of `role` (BullMQ's queue on it). */
  failed(role: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    if (this.down.size === 0) {
      this.since = now;
      this.lastLineAt = now;
      this.failures = 0;
      this.down.add(role);
      this.logger.warn({ role, error: message }, 'redis unavailable; retrying');
      return;
    }
    this.down.add(role);
    this.failures += 1;
    this.logger.debug({ role, error: message }, 'redis connection failed');
    if (now - this.lastLineAt < this.intervalMs) return;
    this.logger.warn(
      { roles: [...this.down], error: message, failures: this.failures, downMs: now - this.since },
      'redis still unavailable; retrying',
    );
    this.lastLineAt = now;
    this.failures = 0;
  }

  private recovered(role: string): void {
    if (!this.down.delete(role) || this.down.size > 0) return;
    this.logger.info({ downMs: Date.now() - this.since }, 'redis available again');
  }
}

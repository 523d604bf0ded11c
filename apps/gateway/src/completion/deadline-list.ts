/**
 * The deadlines of many waiting requests that all get the same timeout, kept with one timer.
 * Requests join in the order they arrive, so the first in the list is always the next to
 * expire: the timer is armed for it alone, and moves on as entries leave or expire. One timer
 * per process instead of one per request.
 */
export class DeadlineList<K> {
  private readonly expiries = new Map<K, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onExpire: (key: K) => void,
  ) {}

  /** Starts `key`'s clock now; it expires `timeoutMs` later unless removed first. */
  add(key: K, nowMs = Date.now()): void {
    this.expiries.set(key, nowMs + this.timeoutMs);
    if (this.timer === undefined) this.arm();
  }

  /**
   * Not re-armed here, even when `key` was first: a timer that fires early finds the new first
   * entry unexpired and re-arms for it, which is cheaper than a new timer per answered request.
   */
  remove(key: K): void {
    this.expiries.delete(key);
  }

  get size(): number {
    return this.expiries.size;
  }

  /** Stops the timer; what is still in the list never expires. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.expiries.clear();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const first = this.expiries.values().next();
    if (first.done) return;
    const expiresAt = first.value;
    this.timer = setTimeout(() => this.expire(), Math.max(0, expiresAt - Date.now()));
    this.timer.unref();
  }

  private expire(): void {
    const now = Date.now();
    for (const [key, expiresAt] of this.expiries) {
      if (expiresAt > now) break;
      this.expiries.delete(key);
      this.onExpire(key);
    }
    this.arm();
  }
}

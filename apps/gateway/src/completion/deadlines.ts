import { DeadlineList } from './deadline-list.js';

/**
 * Deadlines of waiting requests whose timeouts differ (a client may ask for less than
 * REQUEST_TIMEOUT_MS): one `DeadlineList`, and so one timer, per distinct timeout. Clients use a
 * handful of timeouts (an SDK's default, a few set by hand), so a handful of timers serve all.
 */
const KEPT_LISTS = 16;

export class Deadlines<K> {
  private readonly lists = new Map<number, DeadlineList<K>>();
  private readonly timeoutOf = new Map<K, number>();

  constructor(private readonly onExpire: (key: K, timeoutMs: number) => void) {}

  add(key: K, timeoutMs: number, nowMs = Date.now()): void {
    let list = this.lists.get(timeoutMs);
    if (list === undefined) {
      list = new DeadlineList<K>(timeoutMs, (expired) => {
        this.timeoutOf.delete(expired);
        this.onExpire(expired, timeoutMs);
      });
      this.lists.set(timeoutMs, list);
    }
    this.timeoutOf.set(key, timeoutMs);
    list.add(key, nowMs);
  }

  remove(key: K): void {
    const timeoutMs = this.timeoutOf.get(key);
    if (timeoutMs === undefined) return;
    this.timeoutOf.delete(key);
    const list = this.lists.get(timeoutMs);
    list?.remove(key);
    // An emptied list is kept for the next request with its timeout (a list made per request
    // would be a timer per request again), unless clients have asked for many timeouts.
    if (list !== undefined && list.size === 0 && this.lists.size > KEPT_LISTS) {
      list.clear();
      this.lists.delete(timeoutMs);
    }
  }

  clear(): void {
    for (const list of this.lists.values()) list.clear();
    this.lists.clear();
    this.timeoutOf.clear();
  }
}

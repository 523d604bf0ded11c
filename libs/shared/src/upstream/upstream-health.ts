/**
 * Cool-down state of one upstream. A failure (connect error, timeout, 5xx, 429) takes it out of
 * the random pick for a while; Retry-After wins when the upstream sends one, otherwise the pause
 * doubles with each consecutive failure, up to a ceiling. One success resets it.
 */
export class UpstreamHealth {
  private consecutiveFailures = 0;
  private coolUntilMs = 0;
  private toldToWait = false;

  constructor(
    private readonly baseCooldownMs: number,
    private readonly maxCooldownMs: number,
  ) {}

  isHealthy(nowMs: number): boolean {
    return nowMs >= this.coolUntilMs;
  }

  /** When it may be tried again (epoch ms); in the past when healthy. */
  get recoversAt(): number {
    return this.coolUntilMs;
  }

  get failures(): number {
    return this.consecutiveFailures;
  }

  /**
   * Cooling down from a failure of its own (a connect error, a 5xx, a timeout), not because it said
   * when to come back (`Retry-After`): a health probe may then end the cool-down early.
   */
  isProbeable(nowMs: number): boolean {
    return !this.isHealthy(nowMs) && !this.toldToWait;
  }

  markFailure(nowMs: number, retryAfterMs?: number): void {
    this.consecutiveFailures += 1;
    const backoff = Math.min(this.maxCooldownMs, this.baseCooldownMs * 2 ** (this.consecutiveFailures - 1));
    this.coolUntilMs = nowMs + (retryAfterMs ?? backoff);
    this.toldToWait = retryAfterMs !== undefined;
  }

  markSuccess(): void {
    this.consecutiveFailures = 0;
    this.coolUntilMs = 0;
    this.toldToWait = false;
  }
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

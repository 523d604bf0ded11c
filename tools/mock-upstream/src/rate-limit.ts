import type { MockRateLimit, MockRateLimitHeaders } from './types.js';

const DEFAULT_WINDOW_MS = 1000;

/** What the limiter decided for one streaming API call; the numbers become the rate-limit headers. */
export interface RateLimitDecision {
  admitted: boolean;
  limit: number;
  /** Calls still admitted in this window, after counting this one (0 on a refusal). */
  remaining: number;
  /** Calls admitted in this window so far, this one included when admitted. */
  admittedInWindow: number;
  /** Ms from the decision to the end of the window (always > 0). */
  resetMs: number;
  /** When the window ends, ms since the epoch (same clock as `Date.now()`). */
  resetAt: number;
}

function checkedLimit(options: MockRateLimit): { requests: number; windowMs: number } {
  const { requests } = options;
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  if (!Number.isInteger(requests) || requests < 0) {
    throw new RangeError(`rateLimit.requests must be a non-negative integer, got ${requests}`);
  }
  if (!Number.isInteger(windowMs) || windowMs < 1) {
    throw new RangeError(`rateLimit.windowMs must be a positive integer, got ${windowMs}`);
  }
  return { requests, windowMs };
}

/**
 * Fixed windows of `windowMs`, the first starting at `startedAt`: the simplest limit a provider
 * documents, and one whose boundaries a test can compute from any answer's reset header.
 */
export class FixedWindowLimiter {
  readonly limit: number;
  readonly windowMs: number;
  private window = 0;
  private admitted = 0;

  constructor(
    options: MockRateLimit,
    private readonly startedAt: number,
  ) {
    const { requests, windowMs } = checkedLimit(options);
    this.limit = requests;
    this.windowMs = windowMs;
  }

  /** Counts one call at `now` (ms since the epoch); admits it while the window has room. */
  take(now: number): RateLimitDecision {
    // A clock stepped back before the start stays in the first window rather than a negative one.
    const window = Math.max(0, Math.floor((now - this.startedAt) / this.windowMs));
    if (window !== this.window) {
      this.window = window;
      this.admitted = 0;
    }
    const admitted = this.admitted < this.limit;
    if (admitted) this.admitted++;
    const resetAt = this.startedAt + (window + 1) * this.windowMs;
    return {
      admitted,
      limit: this.limit,
      remaining: this.limit - this.admitted,
      admittedInWindow: this.admitted,
      resetMs: resetAt - now,
      resetAt,
    };
  }
}

/** The `rateLimit` option, checked and with its defaults filled in. */
export interface RateLimitPolicy {
  limiter: FixedWindowLimiter;
  headers: MockRateLimitHeaders;
  retryAfter: boolean;
}

/** Throws a RangeError on a bad option, so startMockUpstream fails before it listens. */
export function createRateLimitPolicy(options: MockRateLimit, startedAt: number): RateLimitPolicy {
  return {
    limiter: new FixedWindowLimiter(options, startedAt),
    headers: options.headers ?? 'openai',
    retryAfter: options.retryAfter ?? true,
  };
}

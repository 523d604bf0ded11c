/**
 * What the mock does with the next streaming request, on any of its four APIs (chat and legacy
 * completions, Responses, Messages): `echo` and `drop` speak the request's own stream format.
 */
export type MockBehavior =
  | { kind: 'echo'; chunkDelayMs?: number; words?: number }
  | {
      kind: 'replay';
      sse: string;
      sliceBytes?: number | 'random';
      seed?: number;
      chunkDelayMs?: number;
      status?: number;
      contentType?: string;
    }
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'hang'; afterHeaders?: boolean }
  | { kind: 'drop'; afterChunks: number };

export interface MockRequestRecord {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  aborted: boolean;
  completed: boolean;
}

export interface MockUpstreamStats {
  requests: number;
  aborted: number;
  completed: number;
  byPath: Record<string, number>;
  /** 429s the `rateLimit` option gave (0 without it). */
  rateLimited: number;
  /**
   * The most streaming API calls admitted in any one rate-limit window, 429s not included (0 without
   * `rateLimit`): a test asserts it stays at or under the limit to show a proxy never exceeded it.
   */
  peakPerWindow: number;
}

export interface MockUpstream {
  /** Base URL without a path, e.g. `http://127.0.0.1:45678`. */
  readonly url: string;
  /** `${url}/v1/chat/completions`. */
  readonly chatUrl: string;
  /** The `name` option (default `mock`); also sent as the `x-mock-upstream` response header. */
  readonly name: string;
  /** Live counters. */
  readonly stats: MockUpstreamStats;
  /** Every request seen, in order; only the last 1000 are kept. */
  readonly requests: MockRequestRecord[];
  setDefault(behavior: MockBehavior): void;
  enqueue(...behaviors: MockBehavior[]): void;
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  waitForAborted(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Which provider's rate-limit headers the mock sends. */
export type MockRateLimitHeaders = 'openai' | 'anthropic';

/** A limit this instance enforces on its streaming API calls (chat, completions, responses, messages). */
export interface MockRateLimit {
  /** Requests admitted per window (a non-negative integer; 0 refuses every call). */
  requests: number;
  /** The window, ms (default 1000). Fixed windows aligned to the server's start. */
  windowMs?: number;
  /**
   * Which header set to send: OpenAI's x-ratelimit-* (durations like `1s`, `20ms`) or Anthropic's
   * anthropic-ratelimit-* (RFC 3339 reset). Default 'openai'.
   */
  headers?: MockRateLimitHeaders;
  /** Sent with each 429 as retry-after (seconds, rounded up) — default true. */
  retryAfter?: boolean;
}

export interface MockUpstreamOptions {
  port?: number;
  host?: string;
  defaultBehavior?: MockBehavior;
  name?: string;
  /** A limit this instance enforces on its streaming API calls (chat, completions, responses, messages). */
  rateLimit?: MockRateLimit;
}

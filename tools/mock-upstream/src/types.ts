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

export interface MockUpstreamOptions {
  port?: number;
  host?: string;
  defaultBehavior?: MockBehavior;
  name?: string;
}

import type { Answer, FoldRequest } from '@openai-proxy/shared';

/** The answer as the gateway writes it; queue mode adds how long the job waited for a worker. */
export type CompletedAnswer = Answer & {
  queueWaitMs?: number;
  /** Standalone mode: where the upstream's final object disagreed with its deltas (see FoldedAnswer). */
  mismatches?: string[];
};

/**
 * Turns a non-stream request into its folded answer: through the queue (queue mode) or in
 * this process (standalone mode). Rejects with a ProxyError when it cannot take the request;
 * rejects with the signal's reason when the client went away. Every answer comes by the
 * deadline (`timeoutMs`): past it, the answer is a 504 `deadline_exceeded`.
 */
export interface NonStreamCompleter {
  readonly mode: 'queue' | 'standalone';
  /** `timeoutMs`: its deadline, from now: REQUEST_TIMEOUT_MS or the client's own, if shorter. */
  complete(request: FoldRequest, timeoutMs: number, signal: AbortSignal): Promise<CompletedAnswer>;
  /** Whether the completer's own dependencies (Redis) are reachable. */
  isReady(): boolean;
  /**
   * Live worker processes (queue mode), as last sampled; undefined where workers do not apply
   * (standalone mode) or are not watched (NO_WORKERS_REFUSE_AFTER_MS=0).
   */
  liveWorkers(): number | undefined;
  /** True once no worker has been alive for NO_WORKERS_REFUSE_AFTER_MS: new requests are refused. */
  workersMissing(): boolean;
  /** Jobs by state, for the queue-depth gauge; empty in standalone mode. */
  sampleQueue(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

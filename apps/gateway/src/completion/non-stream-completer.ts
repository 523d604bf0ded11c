import type { Answer, CompletionApi, FoldRequest, WorkClass } from '@openai-proxy/shared';
import type { BackgroundResponses } from '../background/background-responses.js';
import type { BatchService } from '../batch/batch-service.js';
import type { ClientDeparture } from '../pipeline/request-context.js';
import type { QueueHealth } from './queue-health.js';

/** The answer as the gateway writes it; queue mode adds how long the job waited for a worker. */
export type CompletedAnswer = Answer & {
  queueWaitMs?: number;
  /** Standalone mode: where the upstream's final object disagreed with its deltas (see FoldedAnswer). */
  mismatches?: string[];
};

/** What queue mode weighs a request by; standalone mode has no queue to weigh it in. */
export interface CompleteOptions {
  /** Who asked (a key's digest, or an address): each one's share is capped (KEY_MAX_QUEUED). */
  client?: string;
  /** Its place in the queue and its share of upstream capacity; absent: interactive. */
  workClass?: WorkClass;
}

/**
 * Turns a non-stream request into its folded answer: through the queue (queue mode) or in
 * this process (standalone mode). Rejects with a ProxyError when it cannot take the request;
 * rejects with a ClientGoneError when the client went away. Every answer comes by the
 * deadline (`timeoutMs`): past it, the answer is a 504 `deadline_exceeded`.
 */
export interface NonStreamCompleter {
  readonly mode: 'queue' | 'standalone';
  /** `timeoutMs`: its deadline, from now: REQUEST_TIMEOUT_MS or the client's own, if shorter. */
  complete(
    api: CompletionApi,
    request: FoldRequest,
    timeoutMs: number,
    departure: ClientDeparture,
    options?: CompleteOptions,
  ): Promise<CompletedAnswer>;
  /** Queue mode's view of Redis, workers and depth; standalone mode has none. */
  readonly queueHealth?: QueueHealth;
  /** Queue mode's background responses; standalone mode has none (a background request is refused). */
  readonly background?: BackgroundResponses;
  /** Queue mode's Batch API (files and batches); standalone mode has none (its routes answer 400). */
  readonly batches?: BatchService;
  close(): Promise<void>;
}

import type { AnswerUsage, NonStreamRequest } from '@openai-proxy/shared';

/** One non-stream request, as either completer needs it (the completer adds the signal). */
export type NonStreamJob = Omit<NonStreamRequest, 'signal'> & { requestId: string };

/** The answer: the status and the final body string, written to the client as is. */
export interface CompletedAnswer {
  status: number;
  body: string;
  /** Queue mode only: how long the job waited for a worker. */
  queueWaitMs?: number;
  upstream?: string | null;
  /** The model the upstream named and its token counts, for the token metrics. */
  model?: string | null;
  usage?: AnswerUsage;
}

/**
 * Turns a non-stream request into its folded answer: through the queue (queue mode) or in
 * this process (standalone mode). Rejects with a ProxyError when it cannot take the request;
 * rejects with the signal's reason when the client went away.
 */
export interface NonStreamCompleter {
  readonly mode: 'queue' | 'standalone';
  complete(job: NonStreamJob, signal: AbortSignal): Promise<CompletedAnswer>;
  /** Whether the completer's own dependencies (Redis) are reachable. */
  isReady(): boolean;
  /** Jobs by state, for the queue-depth gauge; empty in standalone mode. */
  sampleQueue(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

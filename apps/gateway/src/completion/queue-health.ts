/**
 * What the probes, the metrics and the status page read of the queue: only queue mode has one.
 * (A standalone gateway has no Redis to wait for and no workers to watch.)
 */
export interface QueueHealth {
  /** Whether Redis is reachable and this gateway listens for its answers. */
  isReady(): boolean;
  /**
   * Live worker processes, as last sampled; undefined where workers are not watched
   * (NO_WORKERS_REFUSE_AFTER_MS=0).
   */
  liveWorkers(): number | undefined;
  /** True once no worker has been alive for NO_WORKERS_REFUSE_AFTER_MS: new requests are refused. */
  workersMissing(): boolean;
  /** Jobs by state, for the queue-depth gauge; empty while Redis is away. */
  sampleQueue(): Promise<Record<string, number>>;
}

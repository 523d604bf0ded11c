import { availableParallelism } from 'node:os';
import { commonVars, type Env, intVar, loadConfig, stringVar } from '@openai-proxy/shared';
import { z } from 'zod';

/** Every variable the worker farm reads, with its default. */
export const workerVars = {
  ...commonVars,
  WORKER_PROCESSES: intVar(availableParallelism(), 1),
  WORKER_CONCURRENCY: intVar(256, 1),
  /**
   * The percent of each limited upstream's capacity (rpm, tpm, max_concurrency) kept for
   * interactive requests: background and batch work may use the rest only.
   */
  CAPACITY_INTERACTIVE_SHARE: intVar(20, 0, 90),
  /** How often BullMQ looks for jobs whose worker died; with the lock duration it bounds recovery time. */
  WORKER_STALLED_INTERVAL_MS: intVar(5_000, 50),
  WORKER_LOCK_DURATION_MS: intVar(10_000, 100),
  /** The cluster primary's /metrics and /health (all children summed); 0 turns it off. */
  WORKER_METRICS_PORT: intVar(9464, 0, 65_535),
  WORKER_METRICS_HOST: stringVar('0.0.0.0'),
  /** How long an answer no gateway was listening for stays in Redis for the gateway to collect. */
  RESULT_TTL_SECONDS: intVar(60, 1),
} as const;

export const workerSchema = z.object(workerVars);
export type WorkerConfig = z.infer<typeof workerSchema>;

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const config = loadConfig(workerSchema, env);
  // A pool as large as the jobs a worker process runs at once: none of them waits for a connection.
  return config.UPSTREAM_CONNECTIONS === 0
    ? { ...config, UPSTREAM_CONNECTIONS: config.WORKER_CONCURRENCY }
    : config;
}

import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import { type AnswerTokens, tokenCounter } from './token-counter.js';

const JOB_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const FIRST_BYTE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Metrics of one worker child. The cluster primary sums its children's registries
 * (prom-client's AggregatorRegistry) and serves them on WORKER_METRICS_PORT.
 */
export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<'outcome'>;
  jobDuration: Histogram<'outcome'>;
  upstreamRequests: Counter<'upstream' | 'outcome'>;
  upstreamFirstByte: Histogram<'upstream'>;
  chunks: Counter;
  activeJobs: Gauge;
  tokens: Counter<'model' | 'type'>;
  /** Adds a folded answer's usage to `tokens`, with the model label capped (token-counter.ts). */
  countTokens(answer: AnswerTokens): void;
}

export function createWorkerMetrics(
  registry: Registry,
  options: { defaultMetrics?: boolean } = {},
): WorkerMetrics {
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'openai_proxy_worker_' });
  const registers = [registry];
  const tokens = new Counter({
    name: 'openai_proxy_worker_tokens_total',
    help: 'Tokens reported by upstream usage in folded answers, by model and type (prompt, completion).',
    labelNames: ['model', 'type'] as const,
    registers,
  });
  return {
    registry,
    jobs: new Counter({
      name: 'openai_proxy_worker_jobs_total',
      help: 'Jobs processed, by outcome (success, upstream_error, error, cancelled, expired).',
      labelNames: ['outcome'],
      registers,
    }),
    jobDuration: new Histogram({
      name: 'openai_proxy_worker_job_duration_seconds',
      help: 'Time a worker spent on one job, by outcome.',
      labelNames: ['outcome'],
      buckets: JOB_BUCKETS,
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'openai_proxy_worker_upstream_requests_total',
      help: 'Calls to upstreams made by workers, by upstream and outcome.',
      labelNames: ['upstream', 'outcome'],
      registers,
    }),
    upstreamFirstByte: new Histogram({
      name: 'openai_proxy_worker_upstream_first_byte_seconds',
      help: 'Time until an upstream called by a worker answered with its status line.',
      labelNames: ['upstream'],
      buckets: FIRST_BYTE_BUCKETS,
      registers,
    }),
    chunks: new Counter({
      name: 'openai_proxy_worker_chunks_folded_total',
      help: 'Stream chunks folded into non-stream answers.',
      registers,
    }),
    activeJobs: new Gauge({
      name: 'openai_proxy_worker_active_jobs',
      help: 'Jobs being processed right now.',
      registers,
      aggregator: 'sum',
    }),
    tokens,
    countTokens: tokenCounter(tokens),
  };
}

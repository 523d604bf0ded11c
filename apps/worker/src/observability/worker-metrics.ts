import {
  type AnswerTokens,
  collectRuntimeMetrics,
  DURATION_BUCKETS,
  tokenCounter,
} from '@openai-proxy/shared';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

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
  /** Jobs put back to wait for an upstream's room (capacity-scheduling.ts). */
  capacityDelays: Counter;
  /** Time a job waited in its worker for an upstream's room before its call, by work class. */
  capacityWait: Histogram<'class'>;
  /** Upstream 429s no client saw: the call was made again, elsewhere or after a wait. */
  upstream429sAbsorbed: Counter;
  /** Jobs answered 429 because every upstream's room came after their deadline. */
  capacityRefusals: Counter;
  /** Background responses this worker ended, by final status (completed, incomplete, failed). */
  backgroundEnded: Counter<'status'>;
  /** Background responses generated again because their worker was lost mid-generation. */
  backgroundRestarts: Counter;
  /** Lines of batches this worker ended, by how (completed, failed, skipped: cancelled or expired). */
  batchLines: Counter<'end'>;
  tokens: Counter<'model' | 'type'>;
  /** Adds a folded answer's usage to `tokens`, with the model label capped (token-counter.ts). */
  countTokens(answer: AnswerTokens): void;
}

export function createWorkerMetrics(
  registry: Registry,
  options: { defaultMetrics?: boolean } = {},
): WorkerMetrics {
  if (options.defaultMetrics ?? true) collectRuntimeMetrics(registry);
  const registers = [registry];
  const capacityWait = new Histogram({
    name: 'openai_proxy_worker_capacity_wait_seconds',
    help: 'Time a job waited in its worker for an upstream to have room before its call, by work class.',
    labelNames: ['class'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  // Every class from the start: a dashboard's query finds the series before the first wait.
  for (const workClass of ['interactive', 'background', 'batch']) capacityWait.zero({ class: workClass });
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
      help: 'Jobs processed, by outcome (success, upstream_error, error, cancelled, expired, gateway_gone, delayed).',
      labelNames: ['outcome'],
      registers,
    }),
    jobDuration: new Histogram({
      name: 'openai_proxy_worker_job_duration_seconds',
      help: 'Time a worker spent on one job, by outcome.',
      labelNames: ['outcome'],
      buckets: DURATION_BUCKETS,
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
      buckets: DURATION_BUCKETS,
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
    capacityDelays: new Counter({
      name: 'openai_proxy_worker_capacity_delays_total',
      help: 'Jobs that waited in the queue for an upstream to have room instead of being answered 429.',
      registers,
    }),
    capacityWait,
    upstream429sAbsorbed: new Counter({
      name: 'openai_proxy_worker_upstream_429s_absorbed_total',
      help: 'Upstream 429 answers no client saw: the job tried another upstream or waited for room.',
      registers,
    }),
    capacityRefusals: new Counter({
      name: 'openai_proxy_worker_capacity_refusals_total',
      help: 'Jobs answered 429 because every upstream of their group had room only after their deadline.',
      registers,
    }),
    backgroundEnded: new Counter({
      name: 'openai_proxy_background_ended_total',
      help: 'Background responses a worker ended, by final status (completed, incomplete, failed).',
      labelNames: ['status'],
      registers,
    }),
    backgroundRestarts: new Counter({
      name: 'openai_proxy_background_restarts_total',
      help: 'Background responses generated again because the worker generating them was lost.',
      registers,
    }),
    batchLines: new Counter({
      name: 'openai_proxy_batch_lines_total',
      help: 'Lines of batches a worker ended, by how (completed, failed, skipped: not run, the batch cancelled or expired).',
      labelNames: ['end'],
      registers,
    }),
    tokens,
    countTokens: tokenCounter(tokens),
  };
}

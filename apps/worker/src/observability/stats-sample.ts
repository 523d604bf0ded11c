import { counterSum, type StatsTotals } from '@openai-proxy/shared';
import type { WorkerMetrics } from './worker-metrics.js';

/** Jobs processed; errors are jobs that did not end in an answer from the model. */
export function workerStatsSample(metrics: WorkerMetrics): () => Promise<StatsTotals> {
  return async () => ({
    requests: await counterSum(metrics.jobs, () => true),
    errors: await counterSum(
      metrics.jobs,
      (labels) => labels.outcome !== 'success' && labels.outcome !== 'cancelled',
    ),
  });
}

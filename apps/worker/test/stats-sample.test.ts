import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { workerStatsSample } from '../src/observability/stats-sample.js';
import { createWorkerMetrics } from '../src/observability/worker-metrics.js';

describe('the worker stats sample', () => {
  it('counts worker jobs; failed ones (not cancelled) are errors', async () => {
    const metrics = createWorkerMetrics(new Registry(), { defaultMetrics: false });
    metrics.jobs.inc({ outcome: 'success' }, 3);
    metrics.jobs.inc({ outcome: 'upstream_error' });
    metrics.jobs.inc({ outcome: 'error' });
    metrics.jobs.inc({ outcome: 'cancelled' });
    expect(await workerStatsSample(metrics)()).toEqual({ requests: 6, errors: 2 });
  });
});

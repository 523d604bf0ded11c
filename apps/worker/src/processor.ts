import {
  type ApiRegistry,
  asProxyError,
  type CompletionJobData,
  errorAnswer,
  errorDialectOf,
  isProxyError,
  type Logger,
  type NonStreamSettings,
  type QueuedAnswer,
  type UpstreamObserver,
  type UpstreamSet,
} from '@openai-proxy/shared';
import type { BackgroundStore, CapacityStore } from '@openai-proxy/shared/redis';
import { DelayedError, type Job } from 'bullmq';
import { runBackgroundJob } from './background/background-generation.js';
import { type BatchDeps, runBatchStep } from './batch/batch-steps.js';
import type { CancelRegistry } from './cancel-registry.js';
import { JobHandedBackError } from './hand-back-error.js';
import { foldJobRequest } from './job-fold.js';
import type { WorkerMetrics } from './observability/worker-metrics.js';

export interface ProcessorDeps {
  /** The APIs this worker folds, by the `kind` a job names. */
  apis: ApiRegistry;
  upstreams: UpstreamSet;
  settings: NonStreamSettings;
  cancels: CancelRegistry;
  metrics: WorkerMetrics;
  logger: Logger;
  observe: UpstreamObserver;
  /** Whether the gateway that queued a job is gone (killed): nobody could receive its answer. */
  gatewayGone(gatewayId: string): Promise<boolean>;
  /** Sends the answer to the waiting gateway (stored for it when it is not listening). */
  publish(replyTo: string, answer: QueuedAnswer): Promise<void>;
  /** Each upstream's room, for groups with limits (capacity-scheduling.ts); absent: no scheduling. */
  capacity?: CapacityStore;
  /** The part of each limit background and batch jobs may use (1 − CAPACITY_INTERACTIVE_SHARE). */
  nonInteractiveShare?: number;
  /** Where background responses and their events are kept; jobs that name one write there. */
  background?: BackgroundStore;
  /** Where batches, their files and their steps are; jobs of a batch need them. */
  batch?: BatchDeps;
}

export type JobOutcome =
  | 'success'
  | 'upstream_error'
  | 'error'
  | 'cancelled'
  | 'expired'
  | 'gateway_gone'
  | 'delayed';

function outcomeOf(answer: QueuedAnswer): JobOutcome {
  if (answer.status === 200) return 'success';
  return answer.errorCode === null ? 'upstream_error' : 'error';
}

/**
 * One job: fold an upstream stream into the answer and send it to the waiting gateway.
 * Thin on purpose: the work is `completeFromStream`, shared with standalone mode.
 */
export function createProcessor(deps: ProcessorDeps) {
  return async (
    job: Job<CompletionJobData>,
    token?: string,
  ): Promise<{ status: number } | { outcome: JobOutcome }> => {
    if (job.data.background !== undefined) return runBackgroundJob(deps, job, token);
    if (job.data.batch !== undefined) return runBatchStep(deps, job, token);
    const jobId = String(job.id);
    const data = job.data;
    const { request } = data;
    const started = Date.now();
    const queueWaitMs = started - data.acceptedAt;
    let group: string | undefined;
    /** An upstream failure in its own words (addresses included): for this log only, never the answer. */
    let failure: string | undefined;
    const finish = (outcome: JobOutcome, answer?: QueuedAnswer, chunks?: number) => {
      const seconds = (Date.now() - started) / 1000;
      deps.metrics.jobs.inc({ outcome });
      deps.metrics.jobDuration.observe({ outcome }, seconds);
      // A job that waits for room may do so many times a minute: one line each only at debug.
      deps.logger[outcome === 'delayed' ? 'debug' : 'info'](
        {
          jobId,
          requestId: request.requestId,
          kind: request.kind,
          outcome,
          status: answer?.status,
          upstream: answer?.upstream ?? undefined,
          group,
          queueWaitMs,
          durationMs: Math.round(seconds * 1000),
          chunks,
          attempt: job.attemptsStarted,
          failure,
        },
        'job',
      );
    };
    // Nobody can receive the answer: no upstream is paid for it. A gateway that could not be
    // asked about (Redis away for a moment) gets the benefit of the doubt.
    if (started >= data.deadline) {
      finish('expired');
      return { outcome: 'expired' };
    }
    if (await deps.gatewayGone(data.gatewayId).catch(() => false)) {
      finish('gateway_gone');
      return { outcome: 'gateway_gone' };
    }
    const signal = deps.cancels.register(jobId, data.deadline, started);
    deps.metrics.activeJobs.inc();
    let answer: QueuedAnswer;
    let chunks = 0;
    try {
      const api = deps.apis.get(request.kind);
      // A gateway of another release: ours to fix, answered 500 with the stack logged.
      if (api === undefined) throw new Error(`No API of kind "${request.kind}" in this worker.`);
      const fold = await foldJobRequest(deps, job, token, api, signal, () => finish('delayed'));
      group = fold.group;
      const folded = fold.answer;
      chunks = folded.chunks;
      failure = folded.failure;
      if (folded.mismatches !== undefined && folded.mismatches.length > 0)
        deps.logger.warn(
          { jobId, requestId: request.requestId, upstream: folded.upstream, mismatches: folded.mismatches },
          "the upstream's final response disagrees with its stream; answered with the final one",
        );
      answer = { ...folded, jobId, queueWaitMs };
    } catch (error) {
      // Waiting for an upstream's room: back in the queue, nothing to answer yet.
      if (error instanceof DelayedError) throw error;
      // Handed back by a stopping worker: the next worker answers, this attempt sends nothing.
      if (signal.reason instanceof JobHandedBackError) throw signal.reason;
      if (!isProxyError(error) && signal.aborted) {
        // Cancelled by the client leaving: nobody to answer, no tokens to spend.
        finish('cancelled');
        return { outcome: 'cancelled' };
      }
      // A bug of ours, not the upstream's: logged once with its stack, and answered (a 500) like
      // any other error, so the client learns it now rather than at its deadline.
      if (!isProxyError(error))
        deps.logger.error({ err: error, jobId, requestId: request.requestId }, 'unexpected error');
      const proxyError = asProxyError(error, request.requestId);
      answer = {
        ...errorAnswer(proxyError, null, errorDialectOf(deps.apis, request.kind)),
        jobId,
        queueWaitMs,
      };
    } finally {
      deps.cancels.release(jobId);
      deps.metrics.activeJobs.dec();
    }
    deps.metrics.chunks.inc(chunks);
    deps.metrics.countTokens(answer);
    await deps.publish(data.replyTo, answer);
    finish(outcomeOf(answer), answer, chunks);
    return { status: answer.status };
  };
}

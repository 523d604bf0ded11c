import {
  type CompletionJobData,
  type CompletionResult,
  completeFromStream,
  errorAnswer,
  isProxyError,
  type Logger,
  type NonStreamAnswer,
  type NonStreamSettings,
  type UpstreamObserver,
  type UpstreamSet,
  type WorkerMetrics,
  withDeadline,
} from '@openai-proxy/shared';
import type { Job } from 'bullmq';
import type { CancelRegistry } from './cancel-registry.js';

export interface ProcessorDeps {
  upstreams: UpstreamSet;
  settings: NonStreamSettings;
  cancels: CancelRegistry;
  metrics: WorkerMetrics;
  logger: Logger;
  observe: UpstreamObserver;
  /** Stores the result for a while and publishes it on the gateway's channel. */
  publish(replyTo: string, result: CompletionResult): Promise<void>;
}

export type JobOutcome = 'success' | 'upstream_error' | 'error' | 'cancelled' | 'expired';

function outcomeOf(answer: NonStreamAnswer): JobOutcome {
  if (answer.status === 200) return 'success';
  return answer.errorCode === null ? 'upstream_error' : 'error';
}

/**
 * One job: fold an upstream stream into the answer and send it to the waiting gateway.
 * Thin on purpose: the work is `completeFromStream`, shared with standalone mode.
 */
export function createProcessor(deps: ProcessorDeps) {
  return async (job: Job<CompletionJobData>): Promise<{ status: number } | { outcome: JobOutcome }> => {
    const jobId = String(job.id);
    const data = job.data;
    const started = Date.now();
    const queueWaitMs = started - data.acceptedAt;
    const finish = (outcome: JobOutcome, answer?: NonStreamAnswer) => {
      const seconds = (Date.now() - started) / 1000;
      deps.metrics.jobs.inc({ outcome });
      deps.metrics.jobDuration.observe({ outcome }, seconds);
      deps.logger.info(
        {
          jobId,
          requestId: data.requestId,
          kind: data.kind,
          outcome,
          status: answer?.status,
          upstream: answer?.upstream,
          queueWaitMs,
          durationMs: Math.round(seconds * 1000),
          chunks: answer?.chunks,
          attempt: job.attemptsStarted,
        },
        'job',
      );
    };
    if (started >= data.deadline) {
      finish('expired');
      return { outcome: 'expired' };
    }
    const controller = deps.cancels.register(jobId);
    const { signal, dispose } = withDeadline(controller.signal, data.deadline - started, 'request timeout');
    deps.metrics.activeJobs.inc();
    let answer: NonStreamAnswer;
    try {
      answer = await completeFromStream(
        deps.upstreams,
        deps.settings,
        { kind: data.kind, body: data.body, headers: data.headers, clientAuthorization: data.auth, signal },
        deps.observe,
      );
    } catch (error) {
      if (!isProxyError(error)) {
        // Cancelled by the client leaving: nobody to answer, no tokens to spend.
        finish('cancelled');
        return { outcome: 'cancelled' };
      }
      answer = errorAnswer(error);
    } finally {
      dispose();
      deps.cancels.release(jobId);
      deps.metrics.activeJobs.dec();
    }
    deps.metrics.chunks.inc(answer.chunks);
    deps.metrics.countTokens(answer);
    await deps.publish(data.replyTo, {
      jobId,
      status: answer.status,
      queueWaitMs,
      body: answer.body,
      upstream: answer.upstream,
      model: answer.model,
      usage: answer.usage,
    });
    finish(outcomeOf(answer), answer);
    return { status: answer.status };
  };
}

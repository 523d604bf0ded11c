import {
  asBackgroundObject,
  asProxyError,
  type BackgroundStatus,
  type CompletionApi,
  type CompletionJobData,
  failedResponse,
  failureOfErrorBody,
  isProxyError,
  type JsonObject,
  lifecycleEvent,
  type ResponseFailure,
} from '@openai-proxy/shared';
import type { BackgroundStore } from '@openai-proxy/shared/redis';
import { DelayedError, type Job } from 'bullmq';
import { JobHandedBackError } from '../hand-back-error.js';
import { foldJobRequest } from '../job-fold.js';
import type { JobOutcome, ProcessorDeps } from '../processor.js';
import { EventRecorder } from './event-recorder.js';

/** How a background response ends: its status, its final object and the event that says so (none: kept already). */
interface BackgroundEnd {
  status: BackgroundStatus;
  object: JsonObject;
  event: string | undefined;
}

/**
 * One background response's generation: the same upstream call and fold as a non-stream job
 * (job-fold.ts), with every event kept as it streams (event-recorder.ts) and the end written to the
 * store instead of a gateway's channel. Nobody waits on it, so neither a gone gateway nor a client's
 * deadline stops it; a cancel does (the gateway marks it `cancelled` and broadcasts the job's id).
 *
 * Taken up again after its worker was lost (SIGKILL, a stalled lock), it starts a new generation:
 * the earlier one's events stay, the new one's follow them from `response.created` on, and the final
 * object is the new generation's alone.
 */
export async function runBackgroundJob(
  deps: ProcessorDeps,
  job: Job<CompletionJobData>,
  token: string | undefined,
): Promise<{ outcome: JobOutcome }> {
  const store = deps.background;
  const responseId = job.data.background?.responseId ?? String(job.id);
  const jobId = String(job.id);
  const { request } = job.data;
  const started = Date.now();
  const log = (outcome: JobOutcome, status?: BackgroundStatus) => {
    const seconds = (Date.now() - started) / 1000;
    deps.metrics.jobs.inc({ outcome });
    deps.metrics.jobDuration.observe({ outcome }, seconds);
    deps.logger[outcome === 'delayed' ? 'debug' : 'info'](
      {
        jobId,
        responseId,
        requestId: request.requestId,
        kind: request.kind,
        outcome,
        status,
        durationMs: Math.round(seconds * 1000),
        attempt: job.attemptsStarted,
      },
      'background job',
    );
    return { outcome };
  };
  // A worker started without the store is a bug of ours: BullMQ records the job failed.
  if (store === undefined) throw new Error('A background job reached a worker without a background store.');
  const kept = await store.start(responseId);
  // Cancelled or deleted while it waited: nothing to generate.
  if (kept === undefined) return log('cancelled');
  // More than its `response.queued` kept: an earlier generation was under way when its worker was lost.
  if (kept > 1) {
    deps.metrics.backgroundRestarts.inc();
    deps.logger.warn(
      { responseId, jobId, eventsKept: kept },
      'background response restarted: its worker was lost mid-generation; the new generation follows the events kept',
    );
  }
  const recorder = new EventRecorder(store, responseId, deps.logger);
  const signal = deps.cancels.register(jobId, job.data.deadline, started);
  deps.metrics.activeJobs.inc();
  let end: BackgroundEnd;
  try {
    const api = deps.apis.get(request.kind);
    if (api === undefined) throw new Error(`No API of kind "${request.kind}" in this worker.`);
    const recording: CompletionApi = { ...api, folder: () => recorder.recording(api.folder()) };
    const { answer } = await foldJobRequest(deps, job, token, recording, signal, () => log('delayed'));
    await recorder.written();
    deps.metrics.chunks.inc(answer.chunks);
    deps.metrics.countTokens(answer);
    end =
      answer.status === 200
        ? completedEnd(
            asBackgroundObject(JSON.parse(answer.body) as JsonObject, responseId),
            recorder.lastType,
          )
        : failedEnd(
            await latestOf(store, responseId, recorder),
            failureOfErrorBody(answer.body, answer.status),
          );
  } catch (error) {
    if (error instanceof DelayedError) throw error;
    // Handed back by a stopping worker: the next worker generates it again.
    if (signal.reason instanceof JobHandedBackError) throw signal.reason;
    await recorder.written();
    // Cancelled: the gateway that cancelled it has already said so in the store.
    if (!isProxyError(error) && signal.aborted) return log('cancelled');
    if (!isProxyError(error))
      deps.logger.error({ err: error, jobId, responseId, requestId: request.requestId }, 'unexpected error');
    const proxyError = asProxyError(error, request.requestId);
    end = failedEnd(await latestOf(store, responseId, recorder), {
      code: proxyError.code,
      message: proxyError.message,
    });
  } finally {
    deps.cancels.release(jobId);
    deps.metrics.activeJobs.dec();
  }
  const change = await store.finish(responseId, end.status, JSON.stringify(end.object), end.event);
  // Cancelled (or deleted) while its last events came: the cancel stands.
  if (change === undefined || !change.changed) return log('cancelled', change?.status);
  deps.metrics.backgroundEnded.inc({ status: end.status });
  return log(end.status === 'failed' ? 'upstream_error' : 'success', end.status);
}

function completedEnd(object: JsonObject, lastType: string | undefined): BackgroundEnd {
  const status = object.status === 'incomplete' ? 'incomplete' : 'completed';
  const type = `response.${status}`;
  // The upstream's own final event is kept already; a stream that ended without one gets ours.
  return { status, object, event: lastType === type ? undefined : lifecycleEvent(type, object) };
}

function failedEnd(latest: JsonObject, failure: ResponseFailure): BackgroundEnd {
  const object = failedResponse(latest, failure);
  return { status: 'failed', object, event: lifecycleEvent('response.failed', object) };
}

/** The latest object the stream carried, else the one made at creation. */
async function latestOf(
  store: BackgroundStore,
  responseId: string,
  recorder: EventRecorder,
): Promise<JsonObject> {
  if (recorder.latest !== undefined) return recorder.latest;
  const record = await store.read(responseId);
  return record === undefined
    ? { id: responseId, object: 'response' }
    : (JSON.parse(record.object) as JsonObject);
}

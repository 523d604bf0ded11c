import {
  type CompletionApi,
  type CompletionJobData,
  capacityExhausted,
  completeFromStream,
  errors,
  hasCapacityLimits,
  type NonStreamAnswer,
} from '@openai-proxy/shared';
import { DelayedError, type Job } from 'bullmq';
import { callWhenRoom } from './capacity-scheduling.js';
import type { ProcessorDeps } from './processor.js';

/** What a job's upstream call gave: the answer, and the group that served it. */
export interface JobFold {
  answer: NonStreamAnswer;
  group: string;
}

/**
 * A job's request folded from an upstream stream of its model's group, inside the group's limits
 * when it has some (capacity-scheduling.ts): a short wait for room is waited here; a longer one puts
 * the job back in the queue, delayed, and throws BullMQ's DelayedError (after `delayed()`); room
 * only after `data.deadline` is a 429 with the wait. Throws what `completeFromStream` throws.
 */
export async function foldJobRequest(
  deps: ProcessorDeps,
  job: Job<CompletionJobData>,
  token: string | undefined,
  api: CompletionApi,
  signal: AbortSignal,
  delayed: () => void,
): Promise<JobFold> {
  const { data } = job;
  const { request } = data;
  // The gateway checked the model against its own table; this one may have been reloaded since.
  const routed = deps.upstreams.groupFor(request.body.model);
  if (routed === undefined) throw errors.modelNotFound(request.body.model);
  const group = routed.label;
  if (deps.capacity === undefined || !hasCapacityLimits(routed))
    return {
      group,
      answer: await completeFromStream(routed, deps.settings, api, request, signal, deps.observe),
    };
  const scheduled = await callWhenRoom(
    deps.capacity,
    routed,
    deps.settings,
    {
      api,
      request,
      jobId: String(job.id),
      deadline: data.deadline,
      signal,
      share: data.workClass === undefined ? 1 : deps.nonInteractiveShare,
    },
    deps.observe,
    {
      absorbed429: () => deps.metrics.upstream429sAbsorbed.inc(),
      waited: (ms) =>
        deps.metrics.capacityWait.observe({ class: data.workClass ?? 'interactive' }, ms / 1000),
    },
  );
  if ('answer' in scheduled) return { group, answer: scheduled.answer };
  // Room comes too late for this client: a 429 now, saying when, rather than at its deadline.
  const roomAt = Date.now() + scheduled.waitMs;
  if (roomAt >= data.deadline) {
    deps.metrics.capacityRefusals.inc();
    throw capacityExhausted(scheduled.waitMs);
  }
  // Otherwise the job waits in the queue (delayed) and any worker takes it up on time.
  await job.moveToDelayed(roomAt, token);
  deps.metrics.capacityDelays.inc();
  delayed();
  throw new DelayedError();
}

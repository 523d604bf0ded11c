import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CompletionApi,
  completeFromStream,
  estimatedTokens,
  type FoldRequest,
  limitsLearnt,
  type NonStreamAnswer,
  type NonStreamSettings,
  reserveInGroup,
  type Upstream,
  UpstreamGroup,
  type UpstreamObserver,
} from '@openai-proxy/shared';
import type { CapacityStore } from '@openai-proxy/shared/redis';

/** Waits for room up to this long are waited in the worker; longer ones in the queue. */
const HOLD_FOR_ROOM_MS = 1_000;

/** What became of one job under its group's limits: an answer, or a time to try again. */
export type ScheduledCall = { answer: NonStreamAnswer } | { waitMs: number };

export interface ScheduledJob {
  api: CompletionApi;
  request: FoldRequest;
  /** Names the job's leases. */
  jobId: string;
  /** Epoch ms: no lease outlives it. */
  deadline: number;
  signal: AbortSignal;
  /** The part of each limit this job may use (1 for interactive work). */
  share?: number;
}

/** What the caller counts of a scheduled call. */
export interface SchedulingEvents {
  /** An upstream 429 the client will not see (tried again, here or after a wait). */
  absorbed429(): void;
  /** The job waited `ms` in this worker for room before its call. */
  waited(ms: number): void;
}

/**
 * `callWithinCapacity`, with a short wait (a place about to free, the next second's requests)
 * waited here: put back in the queue, every waiting job would come round several times a second,
 * and a backlog of them would cost more than the calls. The rest of the queue stays untouched, and
 * BullMQ still hands interactive jobs over first as places free. A longer wait, or one past the
 * deadline, is the caller's (`waitMs`).
 */
export async function callWhenRoom(
  store: CapacityStore,
  group: UpstreamGroup,
  settings: NonStreamSettings,
  job: ScheduledJob,
  observe: UpstreamObserver | undefined,
  events: SchedulingEvents,
): Promise<ScheduledCall> {
  let waitedMs = 0;
  let scheduled = await callWithinCapacity(store, group, settings, job, observe, events.absorbed429);
  while (
    'waitMs' in scheduled &&
    scheduled.waitMs <= HOLD_FOR_ROOM_MS &&
    Date.now() + scheduled.waitMs < job.deadline
  ) {
    // A little jitter, so jobs told the same moment do not all come back at once.
    const sleeping = Date.now();
    await sleep(scheduled.waitMs * (1 + Math.random() / 2), undefined, { signal: job.signal });
    waitedMs += Date.now() - sleeping;
    scheduled = await callWithinCapacity(store, group, settings, job, observe, events.absorbed429);
  }
  if (waitedMs > 0) events.waited(waitedMs);
  return scheduled;
}

/**
 * One job's call within its group's capacity. A member is reserved in Redis before it is called
 * (so no worker spends room another already took), called alone, released with the answer's real
 * token use, and the store learns what its headers said. An upstream's own 429 is no answer for
 * the client while another member has room or the job can wait: the call is made again, on another
 * member or, when none has room, after the job waits in the queue (`waitMs`). A 5xx or a failed
 * connection fails over as an unscheduled call would, to a member not tried yet. After `maxTries`
 * calls the last answer stands.
 */
async function callWithinCapacity(
  store: CapacityStore,
  group: UpstreamGroup,
  settings: NonStreamSettings,
  job: ScheduledJob,
  observe: UpstreamObserver | undefined,
  absorbed429: () => void,
): Promise<ScheduledCall> {
  const tokens = estimatedTokens(job.request.body.rest);
  const failed = new Set<Upstream>();
  let last: NonStreamAnswer | undefined;
  for (let attempt = 0; attempt < settings.maxTries; attempt += 1) {
    const candidates = group.members.filter((member) => !failed.has(member));
    if (candidates.length === 0) break;
    const lease = `${job.jobId}:${attempt}:${Date.now()}`;
    const reservation = await reserveInGroup(
      store,
      candidates,
      tokens,
      lease,
      job.deadline - Date.now(),
      job.share,
    );
    if ('waitMs' in reservation) return { waitMs: reservation.waitMs };
    const { upstream } = reservation;
    let answer: NonStreamAnswer | undefined;
    try {
      answer = await completeFromStream(
        new UpstreamGroup([upstream], group.label),
        { ...settings, maxTries: 1 },
        job.api,
        job.request,
        job.signal,
        observe,
      );
    } finally {
      const used = answer?.usage ? answer.usage.prompt_tokens + answer.usage.completion_tokens : undefined;
      // Not awaited: the answer need not wait for it. Should it fail (Redis away), the lease
      // expires at the job's deadline and the minute's count keeps the estimate.
      store.release(upstream.label, lease, tokens, used).catch(() => undefined);
    }
    // Advisory: should Redis be away for a moment, the next answer teaches it again.
    await store
      .learn(upstream.label, limitsLearnt(answer.status, answer.headers, upstream))
      .catch(() => undefined);
    last = answer;
    if (answer.status === 429 && answer.errorCode === null) {
      // Another try follows (a call or a wait in the queue): the client never sees this one.
      if (attempt + 1 < settings.maxTries) absorbed429();
      continue;
    }
    if (!isUpstreamFailure(answer)) return { answer };
    failed.add(upstream);
  }
  return last === undefined ? { waitMs: 0 } : { answer: last };
}

/** An upstream's own 5xx, or no answer from it at all: worth another member. */
function isUpstreamFailure(answer: NonStreamAnswer): boolean {
  if (answer.errorCode === null) return answer.status >= 500;
  return answer.errorCode === 'upstream_unavailable';
}

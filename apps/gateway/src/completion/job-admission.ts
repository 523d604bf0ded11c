import { QUEUE_PRIORITY, type QueueNames } from '@openai-proxy/shared';
import type { RedisClient } from '@openai-proxy/shared/redis';
import type { Queue } from './bullmq-queue.js';

/**
 * MAX_QUEUE_DEPTH, exact across gateway replicas. A depth sampled now and then lets a burst
 * through in the gap, and two replicas that each read "one place left" both take it. So one
 * script counts the jobs waiting (BullMQ's wait, paused, prioritized and delayed sets) plus the
 * admissions still on their way into them, and records this one, or refuses it, atomically.
 * The admission is withdrawn once the job is in the queue (where it is counted instead) or its
 * add failed; at the limit, the script itself drops those whose job is already in the queue, so a
 * job is never refused for one counted twice in the moment between its add and that withdrawal
 * (below the limit a double count refuses nothing, and the look-ups would cost one per admission in
 * flight on every admission: a burst of 10,000 took 30 s of Redis). One whose gateway died in
 * between expires after ADMISSION_TTL_MS (the set itself too, once no admission came for that long).
 *
 * A batch's lines are not counted: thousands of them wait, at the lowest priority, by design, and
 * must not refuse the requests they yield to (BullMQ scores a prioritized job `priority × 2³²` plus
 * a counter, so those below the batch priority are counted).
 *
 * KEY_MAX_QUEUED, in the same script: each client (its key, or its address without keys) has a
 * set of its jobs not yet answered, each until its deadline, so one client flooding the queue is
 * refused past its share while the others keep their turn.
 */
const ADMISSION_TTL_MS = 10_000;

/** The lowest prioritized score of a batch's line (see getPriorityScore.lua in BullMQ). */
const BATCH_SCORE = (QUEUE_PRIORITY.batch ?? 0) * 0x100000000;

const ADMIT = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)
local perClient = tonumber(ARGV[4])
if perClient > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
  local held = redis.call('ZCARD', KEYS[6])
  if held >= perClient then return {2, held} end
end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - ${ADMISSION_TTL_MS})
local function depthNow()
  return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])
    + redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. ARGV[6]) + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5])
end
local depth = depthNow()
if depth >= tonumber(ARGV[1]) then
  -- Only at the limit: an admission whose job is already in the queue is counted twice, and
  -- looking each one up costs a lookup per admission in flight (a burst's thousands, each time).
  for _, id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
    if redis.call('EXISTS', ARGV[3] .. id) == 1 then redis.call('ZREM', KEYS[5], id) end
  end
  depth = depthNow()
  if depth >= tonumber(ARGV[1]) then return {0, depth} end
end
redis.call('ZADD', KEYS[5], now, ARGV[2])
redis.call('PEXPIRE', KEYS[5], ${ADMISSION_TTL_MS})
if perClient > 0 then
  local ttl = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[6], now + ttl, ARGV[2])
  redis.call('PEXPIRE', KEYS[6], ttl)
end
return {1, 0}`;

interface AdmissionCommands {
  admitJob(
    wait: string,
    paused: string,
    prioritized: string,
    delayed: string,
    admissions: string,
    clientJobs: string,
    maxDepth: number,
    jobId: string,
    jobKeyPrefix: string,
    maxPerClient: number,
    timeoutMs: number,
    batchScore: number,
  ): Promise<[number, number]>;
}

/** Who a job is for, when each client's share is capped (KEY_MAX_QUEUED). */
export interface JobClient {
  /** Their key's digest, or their address: never the key itself. */
  id: string;
  /** How long the job may be unanswered: its place is given back by then at the latest. */
  timeoutMs: number;
}

export type Admission =
  | { admitted: true }
  | { admitted: false; reason: 'queue_full'; depth: number }
  | { admitted: false; reason: 'client_share'; held: number };

export interface JobAdmission {
  /** Records the job as on its way into the queue, or says why it may not come. */
  admit(jobId: string, client?: JobClient): Promise<Admission>;
  /** The job is in the queue now (or its add failed): it no longer counts as on its way. */
  settle(jobId: string): void;
  /** The job was answered (or given up): its client's place is free. */
  leave(jobId: string, client: JobClient): void;
}

export function jobAdmission(
  redis: RedisClient,
  queue: Queue,
  names: QueueNames,
  limits: { maxDepth: number; maxPerClient: number },
  onError: (error: unknown) => void,
): JobAdmission {
  redis.defineCommand('admitJob', { numberOfKeys: 6, lua: ADMIT });
  const scripted = redis as RedisClient & AdmissionCommands;
  const { wait, paused, prioritized, delayed } = queue.keys;
  const clientJobs = (client: JobClient | undefined) =>
    `${names.prefix}:client-jobs:${client?.id ?? 'anyone'}`;
  return {
    async admit(jobId, client) {
      const perClient = client === undefined ? 0 : limits.maxPerClient;
      const [outcome, count] = await scripted.admitJob(
        wait as string,
        paused as string,
        prioritized as string,
        delayed as string,
        names.admissionsKey,
        clientJobs(client),
        limits.maxDepth,
        jobId,
        // A job's own hash (BullMQ's `<prefix>:<queue>:<id>`), in the same hash slot as the rest.
        queue.toKey(''),
        perClient,
        Math.max(1, Math.ceil(client?.timeoutMs ?? 1)),
        BATCH_SCORE,
      );
      if (outcome === 1) return { admitted: true };
      return outcome === 2
        ? { admitted: false, reason: 'client_share', held: count }
        : { admitted: false, reason: 'queue_full', depth: count };
    },
    settle(jobId) {
      // Not awaited: the client waits for its answer, not for this.
      redis.zrem(names.admissionsKey, jobId).catch(onError);
    },
    leave(jobId, client) {
      redis.zrem(clientJobs(client), jobId).catch(onError);
    },
  };
}

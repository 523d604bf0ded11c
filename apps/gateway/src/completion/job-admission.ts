import type { QueueNames } from '@openai-proxy/shared';
import type { RedisClient } from '@openai-proxy/shared/redis';
import type { Queue } from './bullmq-queue.js';

/**
 * MAX_QUEUE_DEPTH, exact across gateway replicas. A depth sampled now and then lets a burst
 * through in the gap, and two replicas that each read "one place left" both take it. So one
 * script counts the jobs waiting (BullMQ's wait, paused, prioritized and delayed sets) plus the
 * admissions still on their way into them, and records this one, or refuses it, atomically.
 * The admission is withdrawn once the job is in the queue (where it is counted instead) or its
 * add failed; the script itself drops those whose job is already in the queue, so a job is never
 * counted twice in the moment between its add and that withdrawal. One whose gateway died in
 * between expires after ADMISSION_TTL_MS (the set itself too, once no admission came for that long).
 */
const ADMISSION_TTL_MS = 10_000;

const ADMIT = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - ${ADMISSION_TTL_MS})
for _, id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
  if redis.call('EXISTS', ARGV[3] .. id) == 1 then redis.call('ZREM', KEYS[5], id) end
end
local depth = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])
  + redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5])
if depth >= tonumber(ARGV[1]) then return depth end
redis.call('ZADD', KEYS[5], now, ARGV[2])
redis.call('PEXPIRE', KEYS[5], ${ADMISSION_TTL_MS})
return -1`;

interface AdmissionCommands {
  admitJob(
    wait: string,
    paused: string,
    prioritized: string,
    delayed: string,
    admissions: string,
    maxDepth: number,
    jobId: string,
    jobKeyPrefix: string,
  ): Promise<number>;
}

export interface JobAdmission {
  /** Records the job as on its way into the queue; `{ depth }` when the queue is full instead. */
  admit(jobId: string): Promise<{ admitted: true } | { admitted: false; depth: number }>;
  /** The job is in the queue now (or its add failed): it no longer counts as on its way. */
  settle(jobId: string): void;
}

export function jobAdmission(
  redis: RedisClient,
  queue: Queue,
  names: QueueNames,
  maxDepth: number,
  onError: (error: unknown) => void,
): JobAdmission {
  redis.defineCommand('admitJob', { numberOfKeys: 5, lua: ADMIT });
  const scripted = redis as RedisClient & AdmissionCommands;
  const { wait, paused, prioritized, delayed } = queue.keys;
  return {
    async admit(jobId) {
      const depth = await scripted.admitJob(
        wait as string,
        paused as string,
        prioritized as string,
        delayed as string,
        names.admissionsKey,
        maxDepth,
        jobId,
        // A job's own hash (BullMQ's `<prefix>:<queue>:<id>`), in the same hash slot as the rest.
        queue.toKey(''),
      );
      return depth < 0 ? { admitted: true } : { admitted: false, depth };
    },
    settle(jobId) {
      // Not awaited: the client waits for its answer, not for this.
      redis.zrem(names.admissionsKey, jobId).catch(onError);
    },
  };
}

import type { QueueNames } from './names.js';
import type { RedisClient } from './redis-connection.js';

/**
 * How gateways know whether any worker is alive: each worker process adds itself to a sorted
 * set, scored by Redis's own clock, every `HEARTBEAT_MS`; a worker counts as alive for
 * `ALIVE_FOR_MS` after its last beat. Redis's clock, not the processes', so machines whose
 * clocks differ still agree. Old entries are trimmed by every beat, so the set stays as small
 * as the farm.
 *
 * The same beat names the jobs the worker holds (`heldJobsKey`), so a gateway can tell a job
 * that is running from one that vanished: a Redis that restarted without persistence has lost
 * the running job's keys too, but its worker goes on and answers, and its next beat (one comes
 * at once on every reconnect) says so.
 */
export const HEARTBEAT_MS = 2_000;
export const ALIVE_FOR_MS = 3 * HEARTBEAT_MS;
/** How long a stopping worker waits to leave the set. */
const LEAVE_WAIT_MS = 500;
/** A worker silent this long is removed from the set (it died without saying goodbye). */
const FORGET_AFTER_MS = 60_000;

export const NOW_MS = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)`;

/**
 * KEYS: workers, held jobs. ARGV: the worker's id (empty for a stopping worker, which no longer
 * counts as one but still names the jobs it finishes), then the ids of the jobs it holds.
 */
const BEAT = `${NOW_MS}
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[1], now, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ${FORGET_AFTER_MS})
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], now, ARGV[i]) end
if #ARGV > 1 then redis.call('PEXPIRE', KEYS[2], ${ALIVE_FOR_MS}) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${ALIVE_FOR_MS})
return 1`;

const COUNT_ALIVE = `${NOW_MS}
return redis.call('ZCOUNT', KEYS[1], now - ${ALIVE_FOR_MS}, '+inf')`;

const LIST_ALIVE = `${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], now - ${ALIVE_FOR_MS}, '+inf')`;

interface PresenceCommands {
  workerBeat(workersKey: string, heldJobsKey: string, workerId: string, ...jobIds: string[]): Promise<number>;
  workersAlive(key: string): Promise<number>;
  workersAliveIds(key: string): Promise<string[]>;
}

function withPresence(redis: RedisClient): RedisClient & PresenceCommands {
  redis.defineCommand('workerBeat', { numberOfKeys: 2, lua: BEAT });
  redis.defineCommand('workersAlive', { numberOfKeys: 1, lua: COUNT_ALIVE });
  redis.defineCommand('workersAliveIds', { numberOfKeys: 1, lua: LIST_ALIVE });
  return redis as RedisClient & PresenceCommands;
}

export interface Heartbeat {
  /** Leaves the set of workers at once; the beat goes on naming the jobs still held. */
  leave(): Promise<void>;
  /** Stops beating (and leaves, if it had not). */
  stop(): Promise<void>;
}

/**
 * The worker's side: beat now, every HEARTBEAT_MS and whenever the connection is ready again;
 * `heldJobs` names the jobs this process holds at each beat.
 */
export function startHeartbeat(
  redis: RedisClient,
  names: QueueNames,
  workerId: string,
  onError: (error: unknown) => void,
  heldJobs: () => Iterable<string> = () => [],
): Heartbeat {
  const presence = withPresence(redis);
  let member = workerId;
  const beat = () =>
    void presence.workerBeat(names.workersKey, names.heldJobsKey, member, ...heldJobs()).catch(onError);
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  redis.on('ready', beat);
  /** Bounded, since with Redis away the command would wait for its return. */
  const leave = async () => {
    if (member === '') return;
    member = '';
    const left = redis.zrem(names.workersKey, workerId).catch(onError);
    await Promise.race([left, new Promise((resolve) => setTimeout(resolve, LEAVE_WAIT_MS).unref())]);
  };
  return {
    leave,
    async stop() {
      clearInterval(timer);
      redis.off('ready', beat);
      await leave();
    },
  };
}

/** The gateway's side: how many workers beat within the last ALIVE_FOR_MS. */
export function workersAlive(redis: RedisClient, names: QueueNames): () => Promise<number> {
  const presence = withPresence(redis);
  return () => presence.workersAlive(names.workersKey);
}

/** Which workers beat within the last ALIVE_FOR_MS: their ids, `<host>:<pid>` (the operator's view). */
export function liveWorkerIds(redis: RedisClient, names: QueueNames): () => Promise<string[]> {
  const presence = withPresence(redis);
  return () => presence.workersAliveIds(names.workersKey);
}

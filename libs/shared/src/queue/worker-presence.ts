import type { QueueNames } from './names.js';
import type { RedisClient } from './redis-connection.js';

/**
 * How gateways know whether any worker is alive: each worker process adds itself to a sorted
 * set, scored by Redis's own clock, every `HEARTBEAT_MS`; a worker counts as alive for
 * `ALIVE_FOR_MS` after its last beat. Redis's clock, not the processes', so machines whose
 * clocks differ still agree. Old entries are trimmed by every beat, so the set stays as small
 * as the farm.
 */
export const HEARTBEAT_MS = 2_000;
export const ALIVE_FOR_MS = 3 * HEARTBEAT_MS;
/** How long a stopping worker waits to leave the set. */
const LEAVE_WAIT_MS = 500;
/** A worker silent this long is removed from the set (it died without saying goodbye). */
const FORGET_AFTER_MS = 60_000;

const NOW_MS = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)`;

const BEAT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ${FORGET_AFTER_MS})
return 1`;

const COUNT_ALIVE = `${NOW_MS}
return redis.call('ZCOUNT', KEYS[1], now - ${ALIVE_FOR_MS}, '+inf')`;

const LIST_ALIVE = `${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], now - ${ALIVE_FOR_MS}, '+inf')`;

interface PresenceCommands {
  workerBeat(key: string, workerId: string): Promise<number>;
  workersAlive(key: string): Promise<number>;
  workersAliveIds(key: string): Promise<string[]>;
}

function withPresence(redis: RedisClient): RedisClient & PresenceCommands {
  redis.defineCommand('workerBeat', { numberOfKeys: 1, lua: BEAT });
  redis.defineCommand('workersAlive', { numberOfKeys: 1, lua: COUNT_ALIVE });
  redis.defineCommand('workersAliveIds', { numberOfKeys: 1, lua: LIST_ALIVE });
  return redis as RedisClient & PresenceCommands;
}

/** The worker's side: beat now and every HEARTBEAT_MS; `stop()` leaves the set at once. */
export function startHeartbeat(
  redis: RedisClient,
  names: QueueNames,
  workerId: string,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  const presence = withPresence(redis);
  const beat = () => presence.workerBeat(names.workersKey, workerId).catch(onError);
  void beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return {
    /** Leaves the set; bounded, since with Redis away the command would wait for its return. */
    async stop() {
      clearInterval(timer);
      const left = redis.zrem(names.workersKey, workerId).catch(onError);
      await Promise.race([left, new Promise((resolve) => setTimeout(resolve, LEAVE_WAIT_MS).unref())]);
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

import type { QueueNames } from './names.js';
import type { RedisClient } from './redis-connection.js';
import { ALIVE_FOR_MS, HEARTBEAT_MS, NOW_MS } from './worker-presence.js';

/**
 * How workers know whether anybody still waits for a job's answer: each gateway process beats
 * in a sorted set, scored by Redis's clock, as workers do. A gateway silent for ALIVE_FOR_MS is
 * gone (killed, or its machine lost), and a worker skips its jobs rather than pay an upstream
 * for an answer nobody can receive. A gateway that stops cleanly marks itself gone at once.
 *
 * Only a gateway that was seen and then fell silent is gone: one the set does not name (Redis
 * restarted without persistence, or the gateway's first beat has not landed yet) is given the
 * benefit of the doubt, so its jobs run. Entries are kept for an hour, longer than any job waits.
 */
const FORGET_AFTER_MS = 3_600_000;

const BEAT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ${FORGET_AFTER_MS})
return 1`;

/** Scored as if its last beat were older than ALIVE_FOR_MS: gone at once, forgotten in time. */
const LEAVE = `${NOW_MS}
redis.call('ZADD', KEYS[1], now - ${ALIVE_FOR_MS} - 1, ARGV[1])
return 1`;

/** 1 when the gateway was seen and has not beaten within ALIVE_FOR_MS. */
const IS_GONE = `${NOW_MS}
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not last then return 0 end
if now - tonumber(last) > ${ALIVE_FOR_MS} then return 1 end
return 0`;

interface GatewayPresenceCommands {
  gatewayBeat(key: string, gatewayId: string): Promise<number>;
  gatewayLeave(key: string, gatewayId: string): Promise<number>;
  gatewayGone(key: string, gatewayId: string): Promise<number>;
}

function withGatewayPresence(redis: RedisClient): RedisClient & GatewayPresenceCommands {
  redis.defineCommand('gatewayBeat', { numberOfKeys: 1, lua: BEAT });
  redis.defineCommand('gatewayLeave', { numberOfKeys: 1, lua: LEAVE });
  redis.defineCommand('gatewayGone', { numberOfKeys: 1, lua: IS_GONE });
  return redis as RedisClient & GatewayPresenceCommands;
}

/** How long a stopping gateway waits to mark itself gone. */
const LEAVE_WAIT_MS = 500;

/** The gateway's side: beat now, every HEARTBEAT_MS and on every reconnect; `stop()` leaves. */
export function startGatewayHeartbeat(
  redis: RedisClient,
  names: QueueNames,
  gatewayId: string,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  const presence = withGatewayPresence(redis);
  const beat = () => {
    if (redis.status === 'ready') presence.gatewayBeat(names.gatewaysKey, gatewayId).catch(onError);
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  redis.on('ready', beat);
  return {
    async stop() {
      clearInterval(timer);
      redis.off('ready', beat);
      if (redis.status !== 'ready') return;
      const left = presence.gatewayLeave(names.gatewaysKey, gatewayId).catch(onError);
      await Promise.race([left, new Promise((resolve) => setTimeout(resolve, LEAVE_WAIT_MS).unref())]);
    },
  };
}

/** A live verdict is trusted this long before it is asked again: one look a second per gateway. */
const TRUST_ALIVE_MS = 1_000;
/** Verdicts kept; past it the oldest go (a gateway's id is new with every process). */
const MAX_REMEMBERED = 10_000;

/**
 * The worker's side: whether the gateway that queued a job is gone. A gone gateway stays gone
 * (its id dies with its process), so that verdict is kept; a live one is asked again after a
 * second, so a farm taking thousands of jobs a second asks Redis about once a second a gateway.
 * Jobs that come together while a question is out share it: a burst of a gateway's jobs, taken
 * before its first answer returns, is one question, not one each.
 */
export function gatewayWatch(redis: RedisClient, names: QueueNames): (gatewayId: string) => Promise<boolean> {
  const presence = withGatewayPresence(redis);
  const verdicts = new Map<string, { gone: boolean; at: number }>();
  const asking = new Map<string, Promise<boolean>>();
  const remember = (gatewayId: string, gone: boolean, at: number) => {
    verdicts.delete(gatewayId);
    verdicts.set(gatewayId, { gone, at });
    if (verdicts.size > MAX_REMEMBERED) {
      const oldest = verdicts.keys().next().value;
      if (oldest !== undefined) verdicts.delete(oldest);
    }
  };
  const ask = async (gatewayId: string, now: number): Promise<boolean> => {
    try {
      const gone = (await presence.gatewayGone(names.gatewaysKey, gatewayId)) === 1;
      remember(gatewayId, gone, now);
      return gone;
    } finally {
      asking.delete(gatewayId);
    }
  };
  return (gatewayId) => {
    const now = Date.now();
    const known = verdicts.get(gatewayId);
    if (known !== undefined && (known.gone || now - known.at < TRUST_ALIVE_MS))
      return Promise.resolve(known.gone);
    let question = asking.get(gatewayId);
    if (question === undefined) {
      question = ask(gatewayId, now);
      asking.set(gatewayId, question);
    }
    return question;
  };
}

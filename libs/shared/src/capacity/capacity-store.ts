import type { RedisClient } from '../queue/redis-connection.js';
import type { UpstreamCapacity } from '../upstream/upstream-specs.js';
import type { LearnedLimits } from './rate-limit-headers.js';

/**
 * Each upstream's room, kept in Redis so that every worker spends the same limits: the calls it
 * holds (leases, each expiring with its job so a dead worker frees its place), the calls of the
 * last minute with their token cost (for `rpm` and `tpm`), and what its own headers said last
 * (requests and tokens left until a reset, or a `retry-after`). One script checks the members of a
 * group in the order given and reserves the first with room, atomically; when none has room it
 * says how long until the earliest may. Times are the workers' clocks (epoch ms), the same clocks
 * that read the upstreams' reset headers.
 */

/** How long a full `max_concurrency` is waited out before looking again: a release may come any time. */
export const CONCURRENCY_POLL_MS = 250;

const WINDOW_MS = 60_000;

/**
 * Providers enforce a minute's limit in shorter slices (OpenAI: "60 RPM may be enforced as 1
 * request per second"), so `rpm` is also kept as an even rate: at most rpm/60, rounded up, in any
 * one second. A whole minute's requests sent in its first second would mostly be refused.
 */
const SECOND_MS = 1_000;

/** Two resets this close name one window: relative resets (`1s`) read at different moments differ a little. */
const SAME_WINDOW_MS = 500;

const RESERVE = `local now = tonumber(ARGV[1]) local cost = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3]) local id = ARGV[4]
local best = -1
local function costOf(member) return tonumber(string.match(member, '|(%d+)$')) or 0 end
for i = 0, #KEYS / 3 - 1 do
  local state, leases, calls = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  local maxc, rpm, tpm = tonumber(ARGV[5 + i * 3]), tonumber(ARGV[6 + i * 3]), tonumber(ARGV[7 + i * 3])
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  -- The minute's tokens are kept as a sum beside the calls: what leaves the window is taken off
  -- it here, so no reservation reads the whole minute.
  local leavingCalls = redis.call('ZRANGEBYSCORE', calls, '-inf', now - ${WINDOW_MS})
  if #leavingCalls > 0 then
    local gone = 0
    for _, member in ipairs(leavingCalls) do gone = gone + costOf(member) end
    redis.call('ZREMRANGEBYSCORE', calls, '-inf', now - ${WINDOW_MS})
    -- Never HINCRBY by -0: Redis reads the number Lua writes as "-0" as no integer.
    if gone > 0 then redis.call('HINCRBY', state, 'tokSum', -gone) end
  end
  local wait = 0
  local h = redis.call('HMGET', state, 'retryAt', 'reqRemaining', 'reqReset', 'tokRemaining', 'tokReset')
  local retryAt = tonumber(h[1]) or 0
  if retryAt > now then wait = retryAt - now end
  local reqReset = tonumber(h[3]) or 0
  if reqReset > now and (tonumber(h[2]) or 1) < 1 then wait = math.max(wait, reqReset - now) end
  local tokReset = tonumber(h[5]) or 0
  if cost > 0 and tokReset > now and (tonumber(h[4]) or cost) < cost then
    wait = math.max(wait, tokReset - now)
  end
  if maxc > 0 and redis.call('ZCARD', leases) >= maxc then wait = math.max(wait, ${CONCURRENCY_POLL_MS}) end
  if rpm > 0 then
    local count = redis.call('ZCARD', calls)
    if count >= rpm then
      local leaving = redis.call('ZRANGE', calls, count - rpm, count - rpm, 'WITHSCORES')
      wait = math.max(wait, tonumber(leaving[2]) + ${WINDOW_MS} - now)
    end
    local perSecond = math.ceil(rpm / 60)
    local recent = redis.call('ZCOUNT', calls, now - ${SECOND_MS - 1}, '+inf')
    if recent >= perSecond then
      local leaving = redis.call('ZRANGEBYSCORE', calls, now - ${SECOND_MS - 1}, '+inf', 'WITHSCORES',
        'LIMIT', recent - perSecond, 1)
      wait = math.max(wait, tonumber(leaving[2]) + ${SECOND_MS} - now)
    end
  end
  if tpm > 0 and cost > 0 then
    -- No call left in the window: nothing to count, whatever a sum outliving its calls says.
    local total = 0
    if redis.call('EXISTS', calls) == 1 then total = tonumber(redis.call('HGET', state, 'tokSum')) or 0 end
    if total > 0 and total + cost > tpm then
      -- Over the limit: the oldest calls are read, a page at a time, until enough would have left.
      local freed, at, from = 0, nil, 0
      while at == nil do
        local page = redis.call('ZRANGE', calls, from, from + 99, 'WITHSCORES')
        if #page == 0 then at = now - ${WINDOW_MS} break end
        for j = 1, #page, 2 do
          freed = freed + costOf(page[j])
          if total - freed + cost <= tpm or freed >= total then at = tonumber(page[j + 1]) break end
        end
        from = from + 100
      end
      wait = math.max(wait, at + ${WINDOW_MS} - now)
    end
  end
  if wait <= 0 then
    redis.call('ZADD', leases, now + leaseMs, id)
    redis.call('ZADD', calls, now, id .. '|' .. cost)
    if redis.call('ZCARD', calls) == 1 then redis.call('HSET', state, 'tokSum', cost)
    elseif cost > 0 then redis.call('HINCRBY', state, 'tokSum', cost) end
    if redis.call('PTTL', state) < ${WINDOW_MS * 2} then redis.call('PEXPIRE', state, ${WINDOW_MS * 2}) end
    if reqReset > now then redis.call('HINCRBY', state, 'reqRemaining', -1) end
    if cost > 0 and tokReset > now then redis.call('HINCRBY', state, 'tokRemaining', -cost) end
    redis.call('PEXPIRE', leases, leaseMs + ${WINDOW_MS})
    redis.call('PEXPIRE', calls, ${WINDOW_MS * 2})
    return {1, i}
  end
  if best < 0 or wait < best then best = wait end
end
return {0, best}`;

const RELEASE = `redis.call('ZREM', KEYS[1], ARGV[1])
local used = tonumber(ARGV[3])
if used ~= nil and used >= 0 then
  local estimated = ARGV[1] .. '|' .. ARGV[2]
  local at = redis.call('ZSCORE', KEYS[2], estimated)
  if at then
    redis.call('ZREM', KEYS[2], estimated)
    redis.call('ZADD', KEYS[2], at, ARGV[1] .. '|' .. math.floor(used))
    local change = math.floor(used) - tonumber(ARGV[2])
    if change ~= 0 then redis.call('HINCRBY', KEYS[3], 'tokSum', change) end
  end
end
return 0`;

const LEARN = `local now = tonumber(ARGV[6])
local last = now
local function keep(field, value)
  if value ~= '' then redis.call('HSET', KEYS[1], field, value) last = math.max(last, tonumber(value)) end
end
-- Answers arrive out of order: within one window (a reset less than a second from the one kept)
-- the smaller count left is the truer one, as reservations since have spent from it.
local function window(remainingField, resetField, remaining, reset)
  if reset == '' then return end
  local keptReset = tonumber(redis.call('HGET', KEYS[1], resetField))
  local keptLeft = tonumber(redis.call('HGET', KEYS[1], remainingField))
  if keptReset and keptLeft and math.abs(keptReset - tonumber(reset)) < ${SAME_WINDOW_MS} then
    remaining = tostring(math.min(keptLeft, tonumber(remaining)))
  end
  keep(remainingField, remaining)
  keep(resetField, reset)
end
window('reqRemaining', 'reqReset', ARGV[1], ARGV[2])
window('tokRemaining', 'tokReset', ARGV[3], ARGV[4])
if ARGV[5] ~= '' then
  local before = tonumber(redis.call('HGET', KEYS[1], 'retryAt')) or 0
  if tonumber(ARGV[5]) > before then keep('retryAt', ARGV[5]) end
end
if last > now then redis.call('PEXPIRE', KEYS[1], last - now + ${WINDOW_MS}) end
return 0`;

interface CapacityCommands {
  reserveCapacity(...args: (string | number)[]): Promise<[number, number]>;
  releaseCapacity(
    leases: string,
    calls: string,
    state: string,
    id: string,
    estimated: number,
    used: number,
  ): Promise<number>;
  learnCapacity(state: string, ...args: (string | number)[]): Promise<number>;
}

/** One upstream as the store sees it: its label names its keys. */
export interface CapacityMember {
  readonly label: string;
  readonly capacity: UpstreamCapacity | undefined;
}

/** One upstream's room as the store holds it now, for an operator (`/admin/status`). */
export interface CapacitySnapshot {
  /** Calls it holds now (leases not yet released or expired). */
  inFlight: number;
  /** Calls begun in the last minute, and their tokens (estimates, corrected by usage). */
  callsLastMinute: number;
  tokensLastMinute: number;
  /** What its headers said last, while their window lasts; null once it has reset. */
  requestsLeft: { remaining: number; resetInMs: number } | null;
  tokensLeft: { remaining: number; resetInMs: number } | null;
  /** Kept out by a `retry-after` for this long; 0 when not. */
  retryInMs: number;
}

export type Reservation =
  | { granted: true; member: number; lease: string }
  | { granted: false; waitMs: number };

export class CapacityStore {
  private readonly redis: RedisClient & CapacityCommands;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
  ) {
    redis.defineCommand('reserveCapacity', { lua: RESERVE });
    redis.defineCommand('releaseCapacity', { numberOfKeys: 3, lua: RELEASE });
    redis.defineCommand('learnCapacity', { numberOfKeys: 1, lua: LEARN });
    this.redis = redis as RedisClient & CapacityCommands;
  }

  /** Closes its connection (a gateway's own; a worker's is shared and closed with the worker). */
  close(): void {
    this.redis.disconnect();
  }

  /** Whether its Redis connection is up: without it no limit can be kept. */
  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  /**
   * Reserves the first of `members` with room for a call costing `tokens`, its place held for
   * `leaseMs` at most (the call's deadline): `lease` names the reservation for `release`.
   */
  async reserve(
    members: readonly CapacityMember[],
    tokens: number,
    lease: string,
    leaseMs: number,
    nowMs = Date.now(),
  ): Promise<Reservation> {
    const keys = members.flatMap((member) => this.keysOf(member.label));
    const limits = members.flatMap(({ capacity }) => [
      capacity?.maxConcurrency ?? 0,
      capacity?.rpm ?? 0,
      capacity?.tpm ?? 0,
    ]);
    const [granted, value] = await this.redis.reserveCapacity(
      keys.length,
      ...keys,
      nowMs,
      Math.ceil(tokens),
      Math.max(1, Math.ceil(leaseMs)),
      lease,
      ...limits,
    );
    return granted === 1 ? { granted: true, member: value, lease } : { granted: false, waitMs: value };
  }

  /** The call ended: its place is free, and its token cost is what the answer used, when known. */
  async release(label: string, lease: string, estimatedTokens: number, usedTokens: number | undefined) {
    const [state, leases, calls] = this.keysOf(label);
    await this.redis.releaseCapacity(
      leases,
      calls,
      state,
      lease,
      Math.ceil(estimatedTokens),
      usedTokens ?? -1,
    );
  }

  /** What an upstream's response headers said of its room. */
  async learn(label: string, limits: LearnedLimits, nowMs = Date.now()): Promise<void> {
    const [state] = this.keysOf(label);
    const { requests, tokens, retryAtMs } = limits;
    if (requests === undefined && tokens === undefined && retryAtMs === undefined) return;
    await this.redis.learnCapacity(
      state,
      requests?.remaining ?? '',
      requests?.resetAtMs ?? '',
      tokens?.remaining ?? '',
      tokens?.resetAtMs ?? '',
      retryAtMs ?? '',
      nowMs,
    );
  }

  /** What the store holds of an upstream's room now. */
  async snapshot(label: string, nowMs = Date.now()): Promise<CapacitySnapshot> {
    const [state, leases, calls] = this.keysOf(label);
    const replies = await this.redis
      .multi()
      .hgetall(state)
      .zcount(leases, nowMs + 1, '+inf')
      .zcount(calls, nowMs - WINDOW_MS + 1, '+inf')
      .exec();
    const [learnt, inFlight, recent] = (replies ?? []).map(([, value]) => value) as [
      Record<string, string> | undefined,
      number | undefined,
      number | undefined,
    ];
    const field = (name: string) => Number(learnt?.[name] ?? Number.NaN);
    const window = (remaining: string, reset: string) =>
      field(reset) > nowMs ? { remaining: field(remaining), resetInMs: field(reset) - nowMs } : null;
    return {
      inFlight: inFlight ?? 0,
      callsLastMinute: recent ?? 0,
      // The sum the reservations keep (as of the last one: calls leave it as the next arrives).
      tokensLastMinute: (recent ?? 0) > 0 ? Number(learnt?.tokSum ?? 0) : 0,
      requestsLeft: window('reqRemaining', 'reqReset'),
      tokensLeft: window('tokRemaining', 'tokReset'),
      retryInMs: Math.max(0, (field('retryAt') || 0) - nowMs),
    };
  }

  /** Its state, leases and calls: one hash slot with the queue's own keys (the prefix's `{tag}`). */
  private keysOf(label: string): [string, string, string] {
    const base = `${this.prefix}:capacity:${label}`;
    return [`${base}:state`, `${base}:leases`, `${base}:calls`];
  }
}

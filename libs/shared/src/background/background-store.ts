import type { ChannelPubSub } from '../queue/channel-pub-sub.js';
import type { QueueNames } from '../queue/names.js';
import type { RedisClient } from '../queue/redis-connection.js';

/** OpenAI's `ResponseStatus`: a background response starts `queued` and ends in one of the last four. */
export type BackgroundStatus = 'queued' | 'in_progress' | 'completed' | 'incomplete' | 'failed' | 'cancelled';

export function isFinalStatus(status: BackgroundStatus): boolean {
  return status !== 'queued' && status !== 'in_progress';
}

/** A background response as kept: who made it, where it is, and its object. */
export interface BackgroundRecord {
  status: BackgroundStatus;
  /** The digest of the gateway key that created it; '' when the gateway has no keys. */
  owner: string;
  /**
   * The response object, serialised: the final one once `completed`, `incomplete` or `failed`; the
   * one made at creation otherwise (its output so far is in the events).
   */
  object: string;
}

/** One kept event: its `sequence_number` and its data, as streamed (with the sequence number in it). */
export interface StoredEvent {
  sequence: number;
  data: string;
}

/** What a status change did: `changed`, or not because the response had already ended (`status` is that end). */
export interface StatusChange {
  changed: boolean;
  status: BackgroundStatus;
}

/**
 * Where an event's data says its `sequence_number`: the writer puts `-1` there, first after `type`
 * (`eventData`), and the scripts put the next number in its place, so that numbers follow the kept
 * events whoever writes them (a restarted generation goes on from the last number kept).
 */
const SEQUENCE_PLACEHOLDER = '"sequence_number":-1';

/** An event's data with its sequence number to be given by the store: `type` first, then the number. */
export function eventData(event: Readonly<Record<string, unknown>>): string {
  const { type, sequence_number: _given, ...rest } = event;
  return JSON.stringify({ type, sequence_number: -1, ...rest });
}

/**
 * Appends ARGV[first..] as events numbered from the last one kept. Stream IDs are `0-<n + 1>`, so
 * reading after sequence number N is reading after the ID `0-<N + 1>`.
 */
const APPEND_EVENTS = (first: number) => `
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local seq = -1
if #last > 0 then seq = tonumber(string.match(last[1][1], '%-(%d+)$')) - 1 end
for i = ${first}, #ARGV do
  seq = seq + 1
  local data = string.gsub(ARGV[i], '${SEQUENCE_PLACEHOLDER.replace('-', '%-')}', '"sequence_number":' .. seq, 1)
  redis.call('XADD', KEYS[2], '0-' .. (seq + 1), 'e', data)
end`;

const KEEP = `redis.call('PEXPIRE', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[2], ARGV[1])`;

/** KEYS: record, events, channel, active, counts. ARGV: ttl ms, id, owner, object, created ms, queued event. */
const CREATE = (publish: string) => `
redis.call('HSET', KEYS[1], 'status', 'queued', 'owner', ARGV[3], 'object', ARGV[4], 'attempts', 0)
${APPEND_EVENTS(6)}
${KEEP}
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2])
redis.call('HINCRBY', KEYS[5], 'created', 1)
redis.call('${publish}', KEYS[3], 'queued')
return 1`;

/**
 * A worker takes the response up. KEYS: record, events, channel. ARGV: ttl ms. Returns how many
 * events are kept (the queued one and any of an earlier attempt), or false when it has ended or is gone.
 */
const START = (publish: string) => `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'in_progress' then return false end
redis.call('HSET', KEYS[1], 'status', 'in_progress')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
${KEEP}
redis.call('${publish}', KEYS[3], 'in_progress')
return redis.call('XLEN', KEYS[2])`;

/** KEYS: record, events, channel. ARGV: ttl ms, then the events. Only while in progress: -1 otherwise. */
const APPEND = (publish: string) => `
if redis.call('HGET', KEYS[1], 'status') ~= 'in_progress' then return -1 end
${APPEND_EVENTS(2)}
${KEEP}
redis.call('${publish}', KEYS[3], seq)
return seq`;

/**
 * Ends a response that has not ended: KEYS record, events, channel, active, counts; ARGV ttl ms,
 * id, status, object ('' keeps the one kept), final event ('' none). Returns {1, status} when it
 * changed it, {0, status} when the response had already ended, false when there is none.
 */
const FINISH = (publish: string) => `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status ~= 'queued' and status ~= 'in_progress' then return {0, status} end
redis.call('HSET', KEYS[1], 'status', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'object', ARGV[4]) end
if ARGV[5] ~= '' then
${APPEND_EVENTS(5)}
end
${KEEP}
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[5], ARGV[3], 1)
redis.call('${publish}', KEYS[3], ARGV[3])
return {1, ARGV[3]}`;

/** KEYS: record, events, channel, active. ARGV: id. Returns the status it had, or false. */
const REMOVE = (publish: string) => `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('${publish}', KEYS[3], 'deleted')
return status`;

interface Scripted {
  backgroundCreate(...args: (string | number)[]): Promise<number>;
  backgroundStart(...args: (string | number)[]): Promise<number | null>;
  backgroundAppend(...args: (string | number)[]): Promise<number>;
  backgroundFinish(...args: (string | number)[]): Promise<[number, string] | null>;
  backgroundRemove(...args: (string | number)[]): Promise<string | null>;
}

/**
 * Background responses in Redis, for gateways (create, read, cancel, delete) and workers (start,
 * append events, finish): a hash per response (status, owner, object), its events in a stream,
 * and a channel that says when either changed. Every change is one script: a response that ended
 * (cancelled, say) never changes again, and no event is kept after its end. Each change keeps the
 * response `ttlSeconds` longer.
 */
export class BackgroundStore {
  private readonly redis: RedisClient & Scripted;
  private readonly ttlMs: number;

  constructor(
    redis: RedisClient,
    private readonly names: QueueNames,
    pubSub: ChannelPubSub,
    ttlSeconds: number,
  ) {
    const publish = pubSub.publishCommand;
    redis.defineCommand('backgroundCreate', { numberOfKeys: 5, lua: CREATE(publish) });
    redis.defineCommand('backgroundStart', { numberOfKeys: 3, lua: START(publish) });
    redis.defineCommand('backgroundAppend', { numberOfKeys: 3, lua: APPEND(publish) });
    redis.defineCommand('backgroundFinish', { numberOfKeys: 5, lua: FINISH(publish) });
    redis.defineCommand('backgroundRemove', { numberOfKeys: 4, lua: REMOVE(publish) });
    this.redis = redis as RedisClient & Scripted;
    this.ttlMs = ttlSeconds * 1000;
  }

  /** Keeps a new response, `queued`, with its first event (`response.queued`). */
  async create(id: string, owner: string, object: string, queuedEvent: string): Promise<void> {
    await this.redis.backgroundCreate(
      ...this.keys(id),
      this.names.backgroundActiveKey,
      this.names.backgroundCountsKey,
      this.ttlMs,
      id,
      owner,
      object,
      Date.now(),
      queuedEvent,
    );
  }

  async read(id: string): Promise<BackgroundRecord | undefined> {
    const [status, owner, object] = await this.redis.hmget(
      this.names.backgroundKey(id),
      'status',
      'owner',
      'object',
    );
    if (status == null || object == null) return undefined;
    return { status: status as BackgroundStatus, owner: owner ?? '', object };
  }

  /** Up to `count` events after sequence number `after` (-1: from the first). */
  async events(id: string, after: number, count = 1_000): Promise<StoredEvent[]> {
    const from = after < 0 ? '-' : `(0-${after + 1}`;
    const entries = await this.redis.xrange(this.names.backgroundEventsKey(id), from, '+', 'COUNT', count);
    return entries.map(([entryId, fields]) => ({
      sequence: Number(entryId.slice(entryId.indexOf('-') + 1)) - 1,
      data: fields[1] ?? '',
    }));
  }

  /** A worker starts (or restarts) it: how many events are kept, or undefined when it has ended or is gone. */
  async start(id: string): Promise<number | undefined> {
    const kept = await this.redis.backgroundStart(...this.keys(id), this.ttlMs);
    return kept === null ? undefined : kept;
  }

  /** Appends events (`eventData`), numbered on; false once the response is no longer in progress. */
  async append(id: string, events: readonly string[]): Promise<boolean> {
    return (await this.redis.backgroundAppend(...this.keys(id), this.ttlMs, ...events)) >= 0;
  }

  /**
   * Ends it with `status`, its `object` (undefined keeps the one kept) and a last event, unless it
   * has already ended; undefined when there is no such response.
   */
  async finish(
    id: string,
    status: BackgroundStatus,
    object: string | undefined,
    finalEvent: string | undefined,
  ): Promise<StatusChange | undefined> {
    const reply = await this.redis.backgroundFinish(
      ...this.keys(id),
      this.names.backgroundActiveKey,
      this.names.backgroundCountsKey,
      this.ttlMs,
      id,
      status,
      object ?? '',
      finalEvent ?? '',
    );
    if (reply === null) return undefined;
    return { changed: reply[0] === 1, status: reply[1] as BackgroundStatus };
  }

  /** Removes it and its events: the status it had, or undefined when there was none. */
  async remove(id: string): Promise<BackgroundStatus | undefined> {
    const [record, events, channel] = this.keys(id);
    const status = await this.redis.backgroundRemove(
      record,
      events,
      channel,
      this.names.backgroundActiveKey,
      id,
    );
    return status === null ? undefined : (status as BackgroundStatus);
  }

  /** How many are not yet finished, and how many were created and ended in each status. */
  async counts(): Promise<Record<string, number>> {
    const active = this.names.backgroundActiveKey;
    // A response whose keys expired unfinished (lost with nobody to notice) leaves the running count.
    await this.redis.zremrangebyscore(active, '-inf', Date.now() - this.ttlMs);
    const [running, counts] = await Promise.all([
      this.redis.zcard(active),
      this.redis.hgetall(this.names.backgroundCountsKey),
    ]);
    const result: Record<string, number> = { running };
    for (const name in counts) result[name] = Number(counts[name]);
    return result;
  }

  private keys(id: string): [string, string, string] {
    return [
      this.names.backgroundKey(id),
      this.names.backgroundEventsKey(id),
      this.names.backgroundChannel(id),
    ];
  }
}

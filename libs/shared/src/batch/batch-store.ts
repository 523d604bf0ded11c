import { randomBytes } from 'node:crypto';
import type { QueueNames } from '../queue/names.js';
import type { RedisClient } from '../queue/redis-connection.js';
import { type ListPage, page, pageOfIds } from './file-store.js';

/** OpenAI's `Batch['status']`. */
export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

/** One problem of an input file, as OpenAI's `Batch.errors.data` lists it. */
export interface BatchInputError {
  code: string;
  line: number | null;
  message: string;
  param: string | null;
}

/** What a batch was created with: its fixed part. */
export interface BatchSpec {
  id: string;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  created_at: number;
  expires_at: number;
  metadata: Record<string, string> | null;
}

/** OpenAI's `Batch`, as `/v1/batches` answers it. */
export interface BatchObject extends BatchSpec {
  object: 'batch';
  status: BatchStatus;
  errors: { object: 'list'; data: BatchInputError[] } | null;
  output_file_id: string | null;
  error_file_id: string | null;
  in_progress_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  model?: string;
}

/** How one line ended: a body (output file), an error (error file), or not run (cancelled, expired). */
export type LineEnd = 'completed' | 'failed' | 'skipped';

export function newBatchId(): string {
  return `batch_${randomBytes(16).toString('hex')}`;
}

const TIMESTAMP_OF: Partial<Record<BatchStatus, keyof BatchObject>> = {
  in_progress: 'in_progress_at',
  finalizing: 'finalizing_at',
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelling: 'cancelling_at',
  cancelled: 'cancelled_at',
};

/**
 * KEYS: batch, active set. ARGV: to, time field ('' none), epoch s, id, whether `to` ends it ('1'),
 * then the statuses it may move from.
 */
const MOVE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
for i = 6, #ARGV do
  if status == ARGV[i] then
    redis.call('HSET', KEYS[1], 'status', ARGV[1])
    if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
    if ARGV[5] == '1' then redis.call('ZREM', KEYS[2], ARGV[4]) end
    return {1, ARGV[1]}
  end
end
return {0, status}`;

const FINAL: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);

/**
 * KEYS: batch, results. ARGV: line, how it ended, its result line. Keeps the first result of a
 * line only (a line run again after its worker was lost writes nothing twice) and counts it;
 * returns {kept, 1 when every line has ended}.
 */
const RECORD_LINE = `
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return {0, 0} end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
local h = redis.call('HMGET', KEYS[1], 'total', 'completed', 'failed', 'skipped', 'queued')
local total = tonumber(h[1]) or -1
local ended = (tonumber(h[2]) or 0) + (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0)
if h[5] == '1' and total >= 0 and ended >= total then return {1, 1} end
return {1, 0}`;

interface Scripted {
  batchMove(...args: (string | number)[]): Promise<[number, string] | null>;
  batchRecordLine(...args: (string | number)[]): Promise<[number, number]>;
}

/**
 * Batches in Redis, for gateways (create, read, list, cancel) and workers (their steps and each
 * line's result): per batch a hash (status, owner, spec, times, counts, file ids), a hash of the
 * lines' results until the output files are written, and per owner a sorted set for listing.
 * Status changes are scripts that move only from the statuses given, so a cancel and a worker's
 * step never undo each other.
 */
export class BatchStore {
  private readonly redis: RedisClient & Scripted;

  constructor(
    redis: RedisClient,
    private readonly names: QueueNames,
  ) {
    redis.defineCommand('batchMove', { numberOfKeys: 2, lua: MOVE });
    redis.defineCommand('batchRecordLine', { numberOfKeys: 2, lua: RECORD_LINE });
    this.redis = redis as RedisClient & Scripted;
  }

  /** Keeps a new batch, `validating`. `credential`: the client's own key, when it is passed upstream. */
  async create(spec: BatchSpec, owner: string, credential: string | undefined): Promise<void> {
    await this.redis
      .multi()
      .hset(this.names.batchKey(spec.id), {
        spec: JSON.stringify(spec),
        owner,
        status: 'validating',
        ...(credential === undefined ? {} : { credential }),
      })
      .zadd(this.names.batchesOfOwnerKey(owner), Date.now(), spec.id)
      .zadd(this.names.batchActiveKey, spec.created_at, spec.id)
      .exec();
  }

  /** The batch as OpenAI shows it, if it exists and is `owner`'s (any owner when `owner` is undefined). */
  async get(id: string, owner?: string): Promise<BatchObject | undefined> {
    const fields = await this.redis.hgetall(this.names.batchKey(id));
    if (fields.spec === undefined || (owner !== undefined && fields.owner !== owner)) return undefined;
    return batchObject(fields);
  }

  /** What a worker needs beside the object: the owner and the client's key to pass on, if any. */
  async access(id: string): Promise<{ owner: string; credential: string | undefined } | undefined> {
    const [owner, credential] = await this.redis.hmget(this.names.batchKey(id), 'owner', 'credential');
    if (owner === null || owner === undefined) return undefined;
    return { owner, credential: credential ?? undefined };
  }

  async list(
    owner: string,
    options: { limit: number; after?: string | undefined },
  ): Promise<ListPage<BatchObject>> {
    const ids = await pageOfIds(this.redis, this.names.batchesOfOwnerKey(owner), {
      ...options,
      order: 'desc',
    });
    const batches = await Promise.all(ids.slice(0, options.limit).map((id) => this.get(id, owner)));
    return page(
      batches.filter((batch): batch is BatchObject => batch !== undefined),
      ids.length > options.limit,
    );
  }

  /** Moves it to `to` if it is in one of `from`; says whether it moved, and the status it has. */
  async move(
    id: string,
    to: BatchStatus,
    from: readonly BatchStatus[],
  ): Promise<{ moved: boolean; status: BatchStatus } | undefined> {
    const reply = await this.redis.batchMove(
      this.names.batchKey(id),
      this.names.batchActiveKey,
      to,
      TIMESTAMP_OF[to] ?? '',
      Math.floor(Date.now() / 1000),
      id,
      FINAL.has(to) ? '1' : '0',
      ...from,
    );
    if (reply === null) return undefined;
    return { moved: reply[0] === 1, status: reply[1] as BatchStatus };
  }

  /** Sets fields of the batch (counts, the model, file ids, errors). */
  async set(id: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.names.batchKey(id), fields);
  }

  /** Sets a field only if it has no value yet; resolves to the value it has. */
  async setOnce(id: string, field: string, value: string): Promise<string> {
    await this.redis.hsetnx(this.names.batchKey(id), field, value);
    return (await this.redis.hget(this.names.batchKey(id), field)) ?? value;
  }

  async field(id: string, field: string): Promise<string | undefined> {
    return (await this.redis.hget(this.names.batchKey(id), field)) ?? undefined;
  }

  /** Keeps a line's result once; `last` when it was the batch's last line to end. */
  async recordLine(
    id: string,
    line: number,
    end: LineEnd,
    result: string,
  ): Promise<{ kept: boolean; last: boolean }> {
    const [kept, last] = await this.redis.batchRecordLine(
      this.names.batchKey(id),
      this.names.batchResultsKey(id),
      line,
      end,
      result,
    );
    return { kept: kept === 1, last: last === 1 };
  }

  /** The results kept so far, by line, a page at a time. */
  async *results(id: string): AsyncGenerator<[number, string]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.names.batchResultsKey(id), cursor, 'COUNT', 1000);
      cursor = next;
      for (let index = 0; index + 1 < flat.length; index += 2)
        yield [Number(flat[index]), flat[index + 1] as string];
    } while (cursor !== '0');
  }

  async dropResults(id: string): Promise<void> {
    await this.redis.del(this.names.batchResultsKey(id));
  }

  /** The batches not yet ended, oldest first (at most `limit`), for /admin/status. */
  async active(limit: number): Promise<BatchObject[]> {
    const ids = await this.redis.zrange(this.names.batchActiveKey, '0', String(limit - 1));
    const batches = await Promise.all(ids.map((id) => this.get(id)));
    return batches.filter((batch): batch is BatchObject => batch !== undefined);
  }

  /** How many batches were created and ended in each final status. */
  async counts(): Promise<Record<string, number>> {
    const [counts, active] = await Promise.all([
      this.redis.hgetall(this.names.batchCountsKey),
      this.redis.zcard(this.names.batchActiveKey),
    ]);
    const result: Record<string, number> = { active };
    for (const name in counts) result[name] = Number(counts[name]);
    return result;
  }

  /** Counts a batch's final status (and its creation: `created`) for /admin/status and metrics. */
  async count(what: string): Promise<void> {
    await this.redis.hincrby(this.names.batchCountsKey, what, 1);
  }
}

function numberOrNull(text: string | undefined): number | null {
  return text === undefined ? null : Number(text);
}

function batchObject(fields: Record<string, string>): BatchObject {
  const spec = JSON.parse(fields.spec as string) as BatchSpec;
  const total = Number(fields.total ?? 0);
  return {
    ...spec,
    object: 'batch',
    status: fields.status as BatchStatus,
    errors:
      fields.errors === undefined
        ? null
        : { object: 'list', data: JSON.parse(fields.errors) as BatchInputError[] },
    output_file_id: fields.output_file_id ?? null,
    error_file_id: fields.error_file_id ?? null,
    in_progress_at: numberOrNull(fields.in_progress_at),
    finalizing_at: numberOrNull(fields.finalizing_at),
    completed_at: numberOrNull(fields.completed_at),
    failed_at: numberOrNull(fields.failed_at),
    expired_at: numberOrNull(fields.expired_at),
    cancelling_at: numberOrNull(fields.cancelling_at),
    cancelled_at: numberOrNull(fields.cancelled_at),
    request_counts: { total, completed: Number(fields.completed ?? 0), failed: Number(fields.failed ?? 0) },
    ...(fields.model === undefined ? {} : { model: fields.model }),
  };
}

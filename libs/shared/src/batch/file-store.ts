import { randomBytes } from 'node:crypto';
import type { QueueNames } from '../queue/names.js';
import type { RedisClient } from '../queue/redis-connection.js';

/** OpenAI's `FileObject`, as `/v1/files` answers it. */
export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  expires_at?: number | null;
}

/** A page of a listing, as OpenAI's cursor pages answer it. */
export interface ListPage<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** A new file id: OpenAI's `file-` prefix and 128 random bits. */
export function newFileId(): string {
  return `file-${randomBytes(16).toString('hex')}`;
}

/** Where a file's bytes are in the storage: its id, which holds nothing a client chose. */
export const storageKeyOf = (fileId: string) => `files/${fileId}`;

/**
 * The metadata of `/v1/files` in Redis: per file a hash (`object`, the FileObject serialised, and
 * `owner`, the digest of the gateway key that made it, '' without keys), and per owner a sorted
 * set of their files by creation, for listing. The bytes are in a FileStorage.
 */
export class FileStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: QueueNames,
  ) {}

  async add(file: FileObject, owner: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.names.fileKey(file.id), 'object', JSON.stringify(file), 'owner', owner)
      .zadd(this.names.filesOfOwnerKey(owner), Date.now(), file.id)
      .exec();
  }

  /** The file, if it exists and is `owner`'s. */
  async get(id: string, owner: string): Promise<FileObject | undefined> {
    const [object, fileOwner] = await this.redis.hmget(this.names.fileKey(id), 'object', 'owner');
    if (object === null || object === undefined || fileOwner !== owner) return undefined;
    return JSON.parse(object) as FileObject;
  }

  async remove(id: string, owner: string): Promise<void> {
    await this.redis.multi().del(this.names.fileKey(id)).zrem(this.names.filesOfOwnerKey(owner), id).exec();
  }

  /** `owner`'s files, newest first (`order: 'desc'`, OpenAI's default) or oldest first, after the id `after`. */
  async list(
    owner: string,
    options: {
      limit: number;
      after?: string | undefined;
      order: 'asc' | 'desc';
      purpose?: string | undefined;
    },
  ): Promise<ListPage<FileObject>> {
    const key = this.names.filesOfOwnerKey(owner);
    const matching: FileObject[] = [];
    let after = options.after;
    // A purpose filter may skip many files: windows are read until the page is full or the files end.
    for (;;) {
      const ids = await pageOfIds(this.redis, key, { ...options, after });
      const objects = ids.length === 0 ? [] : await this.objectsOf(ids);
      for (const file of objects)
        if (options.purpose === undefined || file.purpose === options.purpose) matching.push(file);
      const windowFull = ids.length === windowOf(options);
      if (matching.length > options.limit || !windowFull) break;
      after = ids.at(-1);
    }
    return page(matching.slice(0, options.limit), matching.length > options.limit);
  }

  private async objectsOf(ids: string[]): Promise<FileObject[]> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.names.fileKey(id), 'object');
    const replies = (await pipeline.exec()) ?? [];
    return replies.flatMap(([, object]) =>
      typeof object === 'string' ? [JSON.parse(object) as FileObject] : [],
    );
  }
}

/** How many ids a page reads: one more than it shows (it says "has more"), four times that with a filter. */
function windowOf(options: { limit: number; purpose?: string | undefined }): number {
  return options.purpose === undefined ? options.limit + 1 : (options.limit + 1) * 4;
}

/** Up to `limit + 1` ids of a sorted set after `after` (exclusive), in `order`; the extra one says "has more". */
export async function pageOfIds(
  redis: RedisClient,
  key: string,
  options: { limit: number; after?: string | undefined; order: 'asc' | 'desc'; purpose?: string | undefined },
): Promise<string[]> {
  let start = 0;
  if (options.after !== undefined) {
    const rank =
      options.order === 'desc'
        ? await redis.zrevrank(key, options.after)
        : await redis.zrank(key, options.after);
    if (rank === null) return [];
    start = rank + 1;
  }
  const stop = start + windowOf(options) - 1;
  return options.order === 'desc'
    ? redis.zrevrange(key, start, stop)
    : redis.zrange(key, String(start), String(stop));
}

export function page<T extends { id: string }>(data: T[], hasMore: boolean): ListPage<T> {
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: hasMore,
  };
}

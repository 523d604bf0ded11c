import type { QueueNames } from '@openai-proxy/shared';
import { ALIVE_FOR_MS, type RedisClient } from '@openai-proxy/shared/redis';
import type { Queue } from './bullmq-queue.js';

/** How often the jobs this gateway waits for are looked for in Redis. */
export const LOST_JOB_CHECK_MS = 2_000;
/** Jobs looked up in one round trip. */
const BATCH = 1_000;

/**
 * Finds the jobs that vanished from Redis: a restart without persistence, a FLUSHDB, an eviction.
 * Their gateway would otherwise wait for an answer nobody will send until the deadline.
 *
 * A job is there while its key is (waiting, or active), once its answer is stored, or while a
 * worker's heartbeat names it as held: a restart without persistence loses a running job's key
 * too, but its worker goes on and answers. A job is lost when none of the three holds at two
 * looks in a row: an answer published in the instant of the first look (its job key just
 * removed, nothing stored since the message was delivered) has arrived by the second.
 */
export class LostJobWatch {
  /** Jobs found missing at the last look. */
  private missing = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly queue: Queue,
    private readonly names: QueueNames,
  ) {}

  /** Of `jobIds` (queued and still waited for), those missing now and at the previous look. */
  async lost(jobIds: readonly string[]): Promise<string[]> {
    const missingNow = new Set<string>();
    for (let start = 0; start < jobIds.length; start += BATCH) {
      for (const id of await this.missingOf(jobIds.slice(start, start + BATCH))) missingNow.add(id);
    }
    const lost = [...missingNow].filter((id) => this.missing.has(id));
    this.missing = missingNow;
    return lost;
  }

  private async missingOf(jobIds: readonly string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    // Sent together on one connection: one round trip for the batch.
    const [[seconds, micros], heldAt, present] = await Promise.all([
      this.redis.time(),
      this.redis.zmscore(this.names.heldJobsKey, ...jobIds),
      Promise.all(jobIds.map((id) => this.redis.exists(this.queue.toKey(id), this.names.resultKey(id)))),
    ]);
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return jobIds.filter((_id, index) => {
      const held = heldAt[index];
      if (held !== null && held !== undefined && now - Number(held) <= ALIVE_FOR_MS) return false;
      return present[index] === 0;
    });
  }
}

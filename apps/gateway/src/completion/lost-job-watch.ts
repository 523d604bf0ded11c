import type { QueueNames } from '@openai-proxy/shared';
import { ALIVE_FOR_MS, type RedisClient } from '@openai-proxy/shared/redis';
import type { Queue } from './bullmq-queue.js';

/** How often the jobs this gateway waits for are looked for in Redis. */
export const LOST_JOB_CHECK_MS = 2_000;
/** Jobs looked up by one script call. */
const BATCH = 1_000;

/**
 * Of the ids in ARGV[2..] (job i's own hash in KEYS[2i], its stored answer in KEYS[2i+1]), those
 * with neither, that no worker's heartbeat (held-jobs, KEYS[1]) has named within ARGV[1] ms.
 * One call for a thousand jobs: a gateway holding ten thousand would otherwise send twenty
 * thousand commands every look, which under a 10,000-request hold was a sixth of its CPU.
 */
const MISSING = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)
local oldest = now - tonumber(ARGV[1])
local missing = {}
for i = 2, #ARGV do
  local held = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not (held and tonumber(held) >= oldest) and redis.call('EXISTS', KEYS[2 * i - 2], KEYS[2 * i - 1]) == 0 then
    missing[#missing + 1] = ARGV[i]
  end
end
return missing`;

interface MissingJobsCommand {
  missingJobs(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<string[]>;
}

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
  private readonly scripted: RedisClient & MissingJobsCommand;

  constructor(
    redis: RedisClient,
    private readonly queue: Queue,
    private readonly names: QueueNames,
  ) {
    // The number of keys varies with the batch: it is given with each call.
    redis.defineCommand('missingJobs', { lua: MISSING });
    this.scripted = redis as RedisClient & MissingJobsCommand;
  }

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

  private missingOf(jobIds: readonly string[]): Promise<string[]> {
    if (jobIds.length === 0) return Promise.resolve([]);
    const keys = [this.names.heldJobsKey];
    for (const id of jobIds) keys.push(this.queue.toKey(id), this.names.resultKey(id));
    return this.scripted.missingJobs(keys.length, ...keys, ALIVE_FOR_MS, ...jobIds);
  }
}

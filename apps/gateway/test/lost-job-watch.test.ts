import { once } from 'node:events';
import { queueNames } from '@openai-proxy/shared';
import { ALIVE_FOR_MS } from '@openai-proxy/shared/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from '../src/completion/bullmq-queue.js';
import { LostJobWatch } from '../src/completion/lost-job-watch.js';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

let redis: LocalRedis;

beforeAll(async () => {
  redis = await startLocalRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('LostJobWatch', () => {
  it('calls a job lost only when its hash, its answer and a fresh heartbeat are all missing at two looks', async () => {
    const client = redis.connect();
    if (client.status !== 'ready') await once(client, 'ready');
    const names = queueNames('{lost-watch}');
    const queue = new Queue(names.queue, { connection: client, prefix: names.prefix });
    const watch = new LostJobWatch(client, queue, names);
    // 2,500 jobs: more than one script call's batch.
    const ids = Array.from({ length: 2_500 }, (_, index) => `job-${index}`);
    const [seconds] = await client.time();
    const nowMs = Number(seconds) * 1000;
    await client.hset(queue.toKey('job-0'), 'data', '{}');
    await client.set(names.resultKey('job-1'), 'answer');
    await client.zadd(names.heldJobsKey, nowMs, 'job-2');
    // A heartbeat older than a live worker's: it no longer vouches for its job.
    await client.zadd(names.heldJobsKey, nowMs - ALIVE_FOR_MS - 5_000, 'job-3');
    for (const id of ids.slice(4, 1_999)) await client.hset(queue.toKey(id), 'data', '{}');

    // The first look finds the missing ones but calls none lost: an answer may be on its way.
    expect(await watch.lost(ids)).toEqual([]);
    const missing = ['job-3', ...ids.slice(1_999)];
    expect(await watch.lost(ids)).toEqual(missing);
    // One that reappears (its answer stored) is not lost at the next look.
    await client.set(names.resultKey('job-3'), 'answer');
    expect(await watch.lost(ids)).toEqual(ids.slice(1_999));
    await queue.close();
  });
});

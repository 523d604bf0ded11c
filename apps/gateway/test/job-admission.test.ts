import { queueNames } from '@openai-proxy/shared';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from '../src/completion/bullmq-queue.js';
import { jobAdmission } from '../src/completion/job-admission.js';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

// MAX_QUEUE_DEPTH against a real redis-server and a real BullMQ queue: admissions and the jobs
// already in the queue together, each counted once.

let server: LocalRedis;
let redis: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startLocalRedis();
  redis = server.connect();
});

afterAll(() => server?.stop());

function setUp(maxDepth: number) {
  prefixes += 1;
  const names = queueNames(`{admission-${prefixes}}`);
  const queue = new Queue(names.queue, { connection: server.connect(), prefix: names.prefix });
  const admission = jobAdmission(redis, queue, names, maxDepth, (error) => {
    throw error;
  });
  return { queue, admission };
}

describe('job admission', () => {
  it('admits up to the depth, counting admissions on their way in, and refuses the next', async () => {
    const { admission } = setUp(3);
    expect(await admission.admit('a')).toEqual({ admitted: true });
    expect(await admission.admit('b')).toEqual({ admitted: true });
    expect(await admission.admit('c')).toEqual({ admitted: true });
    expect(await admission.admit('d')).toEqual({ admitted: false, depth: 3 });
  });

  it('counts a job once while it is both in the queue and not yet settled', async () => {
    const { queue, admission } = setUp(2);
    expect(await admission.admit('first')).toEqual({ admitted: true });
    // In the queue, its admission not withdrawn yet (settle is not awaited on the request's path).
    await queue.add('chat', {}, { jobId: 'first' });
    expect(await admission.admit('second')).toEqual({ admitted: true });
    await queue.add('chat', {}, { jobId: 'second' });
    expect(await admission.admit('third')).toEqual({ admitted: false, depth: 2 });
    await queue.close();
  });

  it('frees the place of a job that left the queue and of an admission settled without a job', async () => {
    const { queue, admission } = setUp(2);
    await admission.admit('kept');
    await queue.add('chat', {}, { jobId: 'kept' });
    admission.settle('kept');
    await admission.admit('failed-add');
    expect(await admission.admit('one-too-many')).toEqual({ admitted: false, depth: 2 });
    admission.settle('failed-add');
    await queue.remove('kept');
    expect(await admission.admit('now')).toEqual({ admitted: true });
    expect(await admission.admit('and-now')).toEqual({ admitted: true });
    expect(await admission.admit('but-not-now')).toEqual({ admitted: false, depth: 2 });
    await queue.close();
  });
});

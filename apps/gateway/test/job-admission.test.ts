import { QUEUE_PRIORITY, queueNames } from '@openai-proxy/shared';
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

function setUp(maxDepth: number, maxPerClient = 0) {
  prefixes += 1;
  const names = queueNames(`{admission-${prefixes}}`);
  const queue = new Queue(names.queue, { connection: server.connect(), prefix: names.prefix });
  const admission = jobAdmission(redis, queue, names, { maxDepth, maxPerClient }, (error) => {
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
    expect(await admission.admit('d')).toEqual({ admitted: false, reason: 'queue_full', depth: 3 });
  });

  it('counts a job once while it is both in the queue and not yet settled', async () => {
    const { queue, admission } = setUp(2);
    expect(await admission.admit('first')).toEqual({ admitted: true });
    // In the queue, its admission not withdrawn yet (settle is not awaited on the request's path).
    await queue.add('chat', {}, { jobId: 'first' });
    expect(await admission.admit('second')).toEqual({ admitted: true });
    await queue.add('chat', {}, { jobId: 'second' });
    expect(await admission.admit('third')).toEqual({ admitted: false, reason: 'queue_full', depth: 2 });
    await queue.close();
  });

  it('frees the place of a job that left the queue and of an admission settled without a job', async () => {
    const { queue, admission } = setUp(2);
    await admission.admit('kept');
    await queue.add('chat', {}, { jobId: 'kept' });
    admission.settle('kept');
    await admission.admit('failed-add');
    expect(await admission.admit('one-too-many')).toEqual({
      admitted: false,
      reason: 'queue_full',
      depth: 2,
    });
    admission.settle('failed-add');
    await queue.remove('kept');
    expect(await admission.admit('now')).toEqual({ admitted: true });
    expect(await admission.admit('and-now')).toEqual({ admitted: true });
    expect(await admission.admit('but-not-now')).toEqual({ admitted: false, reason: 'queue_full', depth: 2 });
    await queue.close();
  });
});

describe('a batch waiting', () => {
  it('counts background work but not the lines of a batch, which wait below everything by design', async () => {
    const { queue, admission } = setUp(2);
    for (let line = 0; line < 50; line += 1)
      await queue.add('batch:chat', {}, { jobId: `batch_x-${line}`, priority: QUEUE_PRIORITY.batch });
    expect(await admission.admit('person')).toEqual({ admitted: true });
    admission.settle('person');
    await queue.add('responses', {}, { jobId: 'background', priority: QUEUE_PRIORITY.background });
    await queue.add('chat', {}, { jobId: 'person' });
    expect(await admission.admit('next')).toEqual({ admitted: false, reason: 'queue_full', depth: 2 });
    await queue.close();
  });
});

describe("each client's share (KEY_MAX_QUEUED)", () => {
  const alice = { id: 'key:alice', timeoutMs: 60_000 };
  const bob = { id: 'key:bob', timeoutMs: 60_000 };

  it('refuses a client past its share while another keeps its turn, until one of its jobs leaves', async () => {
    const { admission } = setUp(100, 2);
    expect(await admission.admit('a1', alice)).toEqual({ admitted: true });
    expect(await admission.admit('a2', alice)).toEqual({ admitted: true });
    expect(await admission.admit('a3', alice)).toEqual({ admitted: false, reason: 'client_share', held: 2 });
    expect(await admission.admit('b1', bob)).toEqual({ admitted: true });
    admission.leave('a1', alice);
    expect(await admission.admit('a3', alice)).toEqual({ admitted: true });
  });

  it("gives a client's places back at their deadline, when no gateway said they left", async () => {
    const { admission } = setUp(100, 1);
    expect(await admission.admit('short', { id: 'key:carol', timeoutMs: 50 })).toEqual({ admitted: true });
    expect((await admission.admit('next', { id: 'key:carol', timeoutMs: 50 })).admitted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await admission.admit('next', { id: 'key:carol', timeoutMs: 50 })).toEqual({ admitted: true });
  });

  it('counts nobody without a client, or with the share off', async () => {
    const off = setUp(100, 0);
    for (const id of ['x1', 'x2', 'x3'])
      expect(await off.admission.admit(id, alice)).toEqual({ admitted: true });
    const anonymous = setUp(100, 1);
    for (const id of ['y1', 'y2']) expect(await anonymous.admission.admit(id)).toEqual({ admitted: true });
  });
});

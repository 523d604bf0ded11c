import { Writable } from 'node:stream';
import { type CompletionJobData, createLogger } from '@openai-proxy/shared';
import { type Job, Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DrainableWorker } from '../src/drainable-worker.js';
import { JobHandedBackError } from '../src/hand-back-error.js';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

const QUEUE = 'completions';
const logger = createLogger({
  name: 'drainable-worker-test',
  level: 'warn',
  destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
});

let redis: LocalRedis;
let prefixes = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  redis = await startLocalRedis();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await redis?.stop();
});

function jobData(): CompletionJobData {
  return {
    request: { kind: 'chat', body: { model: 'm', rest: '{}' }, headers: {}, requestId: 'r' },
    replyTo: 'nobody-listens',
    gatewayId: 'gateway-1',
    deadline: Date.now() + 60_000,
    acceptedAt: Date.now(),
  };
}

/** A job the processor holds until the test ends it. */
interface HeldJob {
  job: Job<CompletionJobData>;
  finish(): void;
  fail(error: Error): void;
}

/** A queue of its own and a worker on it whose processor holds every job it is given. */
async function deployment(concurrency = 1) {
  prefixes += 1;
  const prefix = `{drain-${prefixes}}`;
  const queue = new Queue<CompletionJobData>(QUEUE, { connection: redis.connect(), prefix });
  const processed: string[] = [];
  const arrivals: Array<(held: HeldJob) => void> = [];
  const waiting: HeldJob[] = [];
  const worker = new DrainableWorker(
    QUEUE,
    (job) =>
      new Promise((resolve, reject) => {
        processed.push(String(job.id));
        const held: HeldJob = { job, finish: () => resolve('done'), fail: reject };
        const arrival = arrivals.shift();
        if (arrival === undefined) waiting.push(held);
        else arrival(held);
      }),
    { connection: redis.connect(), prefix, concurrency },
    logger,
  );
  const failures: string[] = [];
  worker.on('failed', (job) => failures.push(String(job?.id)));
  cleanups.push(async () => {
    await worker.close(true);
    await queue.close();
  });
  await worker.waitUntilReady();
  /** The next job the processor is given. */
  const nextHeld = () =>
    new Promise<HeldJob>((resolve) => {
      const held = waiting.shift();
      if (held === undefined) arrivals.push(resolve);
      else resolve(held);
    });
  return { prefix, queue, worker, processed, failures, nextHeld };
}

describe('DrainableWorker', () => {
  it('holds a job from the moment it takes it until its outcome is recorded', async () => {
    const { queue, worker, nextHeld } = await deployment();
    expect(await worker.noJobInFlightWithin(0)).toBe(true);
    const added = await queue.add('chat', jobData());
    const held = await nextHeld();
    expect(held.job.id).toBe(added.id);
    expect([...worker.heldJobIds()]).toEqual([added.id]);
    expect(worker.jobsInFlight).toBe(1);
    expect(await worker.noJobInFlightWithin(10)).toBe(false);

    const drained = worker.noJobInFlight();
    held.finish();
    await drained;
    // Released only once BullMQ recorded the outcome: no active job left for the stalled check.
    expect(await queue.getJobState(added.id!)).toBe('completed');
    expect(worker.jobsInFlight).toBe(0);
  });

  it('after stopTaking, finishes the job it holds and starts no other', async () => {
    // A free slot: while the first job runs, a fetch waits for the next one.
    const { queue, worker, processed, nextHeld } = await deployment(2);
    const first = await queue.add('chat', jobData());
    const held = await nextHeld();
    await worker.stopTaking();
    const second = await queue.add('chat', jobData());
    held.finish();
    await worker.noJobInFlight();

    expect(await queue.getJobState(first.id!)).toBe('completed');
    expect(await queue.getJobState(second.id!)).toBe('waiting');
    expect(processed).toEqual([first.id]);
  });

  it('after stopTaking while idle, leaves the next job to another worker', async () => {
    const stopped = await deployment();
    await stopped.worker.stopTaking();
    const other = new DrainableWorker(
      QUEUE,
      async () => 'done',
      {
        connection: redis.connect(),
        prefix: stopped.prefix,
      },
      logger,
    );
    cleanups.push(() => other.close(true));
    const completed = new Promise<string>((resolve) => {
      other.on('completed', (job) => resolve(String(job.id)));
    });
    await other.waitUntilReady();
    const added = await stopped.queue.add('chat', jobData());
    expect(await completed).toBe(added.id);
    expect(stopped.processed).toEqual([]);
  });

  it('hands a job aborted at the end of the grace back to the queue, unfailed, for the next worker', async () => {
    const stopping = await deployment();
    const added = await stopping.queue.add('chat', jobData());
    const held = await stopping.nextHeld();
    await stopping.worker.stopTaking();
    held.fail(new JobHandedBackError(String(added.id)));
    await stopping.worker.noJobInFlight();

    const job = await stopping.queue.getJob(added.id!);
    expect(await job?.getState()).toBe('waiting');
    expect(job?.failedReason).toBeFalsy();
    expect(stopping.failures).toEqual([]);
    expect(stopping.worker.jobsStranded).toBe(0);

    // The next worker on the same queue takes it and runs it to the end.
    const next = new DrainableWorker(
      QUEUE,
      async () => 'done again',
      {
        connection: redis.connect(),
        prefix: stopping.prefix,
      },
      logger,
    );
    cleanups.push(() => next.close(true));
    const completed = new Promise<string>((resolve) => {
      next.on('completed', (job) => resolve(String(job.id)));
    });
    expect(await completed).toBe(added.id);
    expect(await stopping.queue.getJobState(added.id!)).toBe('completed');
  });
});

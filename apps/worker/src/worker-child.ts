import { hostname } from 'node:os';
import {
  COMPLETION_APIS,
  type CompletionJobData,
  describeTopology,
  errorAnswer,
  type Logger,
  nonStreamSettings,
  ProxyError,
  queueNames,
  type RedisTopology,
  reloadUpstreams,
  startStatsLine,
  UpstreamSet,
  upstreamObserver,
} from '@openai-proxy/shared';
import { channelPubSub, createRedis, startHeartbeat } from '@openai-proxy/shared/redis';
import { type Job, type Processor, Worker, type WorkerOptions } from 'bullmq';
import { AggregatorRegistry, Registry } from 'prom-client';
import { answerPublisher } from './answer-publisher.js';
import { CancelRegistry } from './cancel-registry.js';
import type { WorkerConfig } from './config.js';
import { workerStatsSample } from './observability/stats-sample.js';
import { createWorkerMetrics } from './observability/worker-metrics.js';
import { createProcessor } from './processor.js';

export interface RunningWorker {
  worker: Worker<CompletionJobData>;
  /** Re-reads UPSTREAMS_FILE (SIGHUP); a bad file changes nothing and is logged. */
  reloadUpstreams(): boolean;
  /** Stops taking jobs, finishes the active ones, closes connections. Runs once. */
  close(): Promise<void>;
}

/** One worker process: a BullMQ Worker running up to WORKER_CONCURRENCY folds at once. */
export async function startWorkerChild(
  config: WorkerConfig,
  redis: RedisTopology,
  logger: Logger,
): Promise<RunningWorker> {
  const names = queueNames(config.QUEUE_PREFIX);
  const registry = new Registry();
  // The cluster primary collects this registry from every child over IPC. prom-client's child
  // side answers the primary only once an AggregatorRegistry was constructed in the child (its
  // constructor installs the IPC listener); without one every scrape of the primary times out.
  AggregatorRegistry.setRegistries([registry]);
  void new AggregatorRegistry();
  const metrics = createWorkerMetrics(registry);
  const upstreams = new UpstreamSet(config);
  const cancels = new CancelRegistry();
  const pubSub = channelPubSub(redis);
  const publisher = createRedis(redis, 'worker', `worker-pub:${process.pid}`);
  const cancelSubscriber = createRedis(redis, 'subscriber', `worker-cancel:${process.pid}`);
  const workerConnection = createRedis(redis, 'worker', `worker:${process.pid}`);
  for (const [role, client] of [
    ['publisher', publisher],
    ['cancel subscriber', cancelSubscriber],
    ['worker', workerConnection],
  ] as const) {
    client.on('error', (error) => logger.warn({ err: error, role }, 'redis error'));
  }
  pubSub.onMessage(cancelSubscriber, (_channel, jobId) => cancels.cancel(jobId));
  await pubSub.subscribe(cancelSubscriber, names.cancelChannel);

  const publish = answerPublisher(publisher, names, pubSub, config.RESULT_TTL_SECONDS);

  const processor = createProcessor({
    upstreams,
    cancels,
    metrics,
    logger,
    settings: nonStreamSettings(config),
    observe: upstreamObserver(metrics),
    publish,
  });

  const worker = new DrainableWorker(names.queue, processor, {
    connection: workerConnection,
    prefix: names.prefix,
    concurrency: config.WORKER_CONCURRENCY,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    maxStalledCount: 1,
  });
  worker.on('error', (error) => logger.warn({ err: error }, 'worker error'));
  worker.on('failed', (job, error) => {
    logger.error({ err: error, jobId: job?.id }, 'job failed');
    // A failed job may be kept for the queue dashboard (the gateway decides): not with the
    // client's key in it. Nothing to do where it was removed at once.
    if (job?.data.auth !== undefined) {
      const { auth: _key, ...withoutKey } = job.data;
      job.updateData(withoutKey).catch(() => undefined);
    }
    // BullMQ gave up on the job (it stalled more than once, its worker dying each time): its
    // client still waits, so it gets a 502 now instead of a 504 at its deadline.
    if (job === undefined || Date.now() >= job.data.deadline) return;
    const failure = new ProxyError('job_failed', `The job failed in the worker farm: ${error.message}`);
    const failedAnswer = errorAnswer(failure, null, COMPLETION_APIS[job.data.kind].errorDialect);
    publish(job.data.replyTo, { ...failedAnswer, jobId: String(job.id), queueWaitMs: 0 }).catch(
      (err: unknown) => logger.warn({ err, jobId: job.id }, 'could not answer a failed job'),
    );
  });
  await worker.waitUntilReady();
  // Gateways refuse new non-stream requests quickly when no worker beats (see worker-presence.ts).
  const heartbeat = startHeartbeat(publisher, names, `${hostname()}:${process.pid}`, (error) =>
    logger.debug({ err: error }, 'heartbeat failed'),
  );
  logger.info(
    { concurrency: config.WORKER_CONCURRENCY, queue: names.queue, redis: describeTopology(redis) },
    'worker ready',
  );

  const stats = startStatsLine({
    logger,
    intervalSeconds: config.STATS_INTERVAL_SECONDS,
    sample: workerStatsSample(metrics),
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stats.stop();
      // Take no new job. Not `worker.close()`: it also waits for the blocking connection to end,
      // and one that is between reconnect attempts (Redis away, or just back) never ends, so the
      // shutdown sat out the whole grace with nothing to do.
      await worker.pause(true);
      await heartbeat.stop();
      if (worker.jobsInFlight > 0)
        logger.info({ activeJobs: worker.jobsInFlight }, 'waiting for active jobs');
      await worker.noJobInFlight();
      // Nothing left to wait for: `force` skips BullMQ's wait on Redis.
      await worker.close(true);
      cancels.close();
      await upstreams.close();
      cancelSubscriber.disconnect();
      publisher.disconnect();
      workerConnection.disconnect();
    })();
    return closing;
  };
  return { worker, reloadUpstreams: () => reloadUpstreams(upstreams, config, logger), close };
}

/**
 * A BullMQ Worker that knows which jobs it holds: from the moment it takes one ('active') until
 * BullMQ is done with it, its outcome recorded in Redis or given up on. That is what a shutdown
 * waits for. Waiting only for the processor would leave a job whose answer was sent active in
 * Redis, where the stalled-job check gives it to another worker and the upstream is called twice.
 */
class DrainableWorker extends Worker<CompletionJobData> {
  private readonly held = new Set<string>();
  private readonly drainWaiters: Array<() => void> = [];

  constructor(queue: string, processor: Processor<CompletionJobData>, options: WorkerOptions) {
    super(queue, processor, options);
    this.on('active', (job) => this.held.add(String(job.id)));
  }

  /** BullMQ's own step per job: runs the processor, then records the outcome (with its retries). */
  override async processJob(job: Job<CompletionJobData>, token: string, fetchNextCallback?: () => boolean) {
    try {
      return await super.processJob(job, token, fetchNextCallback);
    } finally {
      this.release(String(job.id));
    }
  }

  get jobsInFlight(): number {
    return this.held.size;
  }

  /** Resolves when this worker holds no job: at once when it holds none. */
  noJobInFlight(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private release(id: string): void {
    this.held.delete(id);
    if (this.held.size > 0) return;
    for (const wake of this.drainWaiters.splice(0)) wake();
  }
}

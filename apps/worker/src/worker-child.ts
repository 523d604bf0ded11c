import { hostname } from 'node:os';
import {
  apiRegistry,
  BUILT_IN_APIS,
  type CompletionApi,
  type CompletionJobData,
  describeTopology,
  errorAnswer,
  errorDialectOf,
  failedResponse,
  type JsonObject,
  type Logger,
  lifecycleEvent,
  nonStreamSettings,
  openFileStorage,
  ProxyError,
  queueNames,
  type RedisTopology,
  reloadUpstreams,
  startStatsLine,
  trackUpstreamConnections,
  UpstreamSet,
  upstreamObserver,
} from '@openai-proxy/shared';
import {
  BackgroundStore,
  BatchStore,
  CapacityStore,
  channelPubSub,
  createRedis,
  FileStore,
  gatewayWatch,
  RedisOutageLog,
  startHeartbeat,
} from '@openai-proxy/shared/redis';
import { Queue, type Worker } from 'bullmq';
import { AggregatorRegistry, Registry } from 'prom-client';
import { answerPublisher } from './answer-publisher.js';
import { type BatchDeps, failBatchStep } from './batch/batch-steps.js';
import { CancelRegistry } from './cancel-registry.js';
import type { WorkerConfig } from './config.js';
import { DrainableWorker } from './drainable-worker.js';
import { workerStatsSample } from './observability/stats-sample.js';
import { createWorkerMetrics } from './observability/worker-metrics.js';
import { createProcessor } from './processor.js';

export interface RunningWorker {
  worker: Worker<CompletionJobData>;
  /** Re-reads UPSTREAMS_FILE (SIGHUP); a bad file changes nothing and is logged. */
  reloadUpstreams(): boolean;
  /**
   * Stops taking jobs, finishes the ones it holds within SHUTDOWN_GRACE_MS and hands the rest
   * back to the queue, closes connections. Runs once.
   */
  close(): Promise<ShutdownReport>;
}

export interface ShutdownReport {
  /** Jobs neither finished nor handed back: they return to the queue through the stalled-job check. */
  stranded: number;
}

/** One worker process: a BullMQ Worker running up to WORKER_CONCURRENCY folds at once. */
export async function startWorkerChild(
  config: WorkerConfig,
  redis: RedisTopology,
  logger: Logger,
  options: { apis?: readonly CompletionApi[] } = {},
): Promise<RunningWorker> {
  const apis = apiRegistry(options.apis ?? BUILT_IN_APIS);
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
  // While Redis is away: one line when it goes, one per interval, one when it is back.
  const outageLog = new RedisOutageLog(logger);
  for (const [role, client] of [
    ['publisher', publisher],
    ['cancel subscriber', cancelSubscriber],
    ['worker', workerConnection],
  ] as const) {
    outageLog.watch(client, role);
  }
  pubSub.onMessage(cancelSubscriber, (_channel, jobId) => cancels.cancel(jobId));
  await pubSub.subscribe(cancelSubscriber, names.cancelChannel);

  const publish = answerPublisher(publisher, names, pubSub, config.RESULT_TTL_SECONDS);

  const background = new BackgroundStore(publisher, names, pubSub, config.BACKGROUND_TTL_SECONDS);
  const batchQueue = new Queue<CompletionJobData>(names.queue, {
    connection: publisher,
    prefix: names.prefix,
  });
  // Its errors are its connection's (the publisher's, watched above): nothing more to say then.
  batchQueue.on('error', (error) => {
    if (publisher.status === 'ready') logger.warn({ err: error }, 'batch queue error');
  });
  const batch: BatchDeps = {
    store: new BatchStore(publisher, names),
    files: new FileStore(publisher, names),
    storage: await openFileStorage(config),
    queue: batchQueue,
  };
  const processor = createProcessor({
    apis,
    background,
    batch,
    capacity: new CapacityStore(publisher, names.prefix),
    nonInteractiveShare: (100 - config.CAPACITY_INTERACTIVE_SHARE) / 100,
    upstreams,
    cancels,
    metrics,
    logger,
    settings: nonStreamSettings(config),
    observe: upstreamObserver(metrics),
    publish,
    gatewayGone: gatewayWatch(publisher, names),
  });

  const worker = new DrainableWorker(
    names.queue,
    processor,
    {
      connection: workerConnection,
      prefix: names.prefix,
      concurrency: config.WORKER_CONCURRENCY,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      lockDuration: config.WORKER_LOCK_DURATION_MS,
      maxStalledCount: 1,
    },
    logger,
  );
  worker.on('error', (error) => {
    if (workerConnection.status === 'ready') logger.warn({ err: error }, 'worker error');
    else outageLog.failed('worker', error);
  });
  worker.on('failed', (job, error) => {
    logger.error({ err: error, jobId: job?.id }, 'job failed');
    // A failed job may be kept for the queue dashboard (the gateway decides): not with the
    // client's key in it. Nothing to do where it was removed at once.
    if (job?.data.request.credential !== undefined) {
      const { credential: _key, ...withoutKey } = job.data.request;
      job.updateData({ ...job.data, request: withoutKey }).catch(() => undefined);
    }
    // BullMQ gave up on the job (it stalled more than once, its worker dying each time): its
    // client still waits, so it gets a 502 now instead of a 504 at its deadline.
    if (job === undefined || Date.now() >= job.data.deadline) return;
    if (job.data.batch !== undefined) {
      void failBatchStep(batch, job.data, error.message).catch((err: unknown) =>
        logger.warn({ err, jobId: job.id }, 'could not record a failed batch step'),
      );
      return;
    }
    if (job.data.background !== undefined) {
      void failBackground(background, job.data.background.responseId, error.message).catch((err: unknown) =>
        logger.warn({ err, jobId: job.id }, 'could not end a failed background response'),
      );
      return;
    }
    const failure = new ProxyError('job_failed', `The job failed in the worker farm: ${error.message}`);
    const failedAnswer = errorAnswer(failure, null, errorDialectOf(apis, job.data.request.kind));
    publish(job.data.replyTo, { ...failedAnswer, jobId: String(job.id), queueWaitMs: 0 }).catch(
      (err: unknown) => logger.warn({ err, jobId: job.id }, 'could not answer a failed job'),
    );
  });
  await worker.waitUntilReady();
  // Gateways refuse new non-stream requests quickly when no worker beats (see worker-presence.ts).
  // It names the jobs held too: a gateway then tells a running job whose keys a Redis restart
  // wiped from a lost one.
  const heartbeat = startHeartbeat(
    publisher,
    names,
    `${hostname()}:${process.pid}`,
    (error) => logger.debug({ err: error }, 'heartbeat failed'),
    () => worker.heldJobIds(),
  );
  logger.info(
    { concurrency: config.WORKER_CONCURRENCY, queue: names.queue, redis: describeTopology(redis) },
    'worker ready',
  );

  const stopConnectionTracking = trackUpstreamConnections(
    registry,
    'openai_proxy_worker_upstream',
    () => upstreams.all,
    logger,
  );
  const stats = startStatsLine({
    logger,
    intervalSeconds: config.STATS_INTERVAL_SECONDS,
    sample: workerStatsSample(metrics),
  });

  let closing: Promise<ShutdownReport> | undefined;
  const close = () => {
    closing ??= (async () => {
      const graceEndsAt = Date.now() + config.SHUTDOWN_GRACE_MS;
      stats.stop();
      stopConnectionTracking();
      await worker.stopTaking();
      await heartbeat.leave();
      if (worker.jobsInFlight > 0)
        logger.info({ activeJobs: worker.jobsInFlight }, 'waiting for active jobs');
      if (!(await worker.noJobInFlightWithin(graceEndsAt - Date.now()))) {
        // The next worker runs them at once, rather than after its stalled-job check noticed
        // this one gone; their gateways keep waiting on the same reply channel.
        logger.warn(
          { graceMs: config.SHUTDOWN_GRACE_MS, activeJobs: worker.jobsInFlight },
          'grace period over; handing the unfinished jobs back to the queue',
        );
        cancels.handBackAll();
        await worker.noJobInFlight();
      }
      await heartbeat.stop();
      // Nothing left to wait for: `force` skips BullMQ's wait on Redis.
      await worker.close(true);
      await batchQueue.close().catch(() => undefined);
      cancels.close();
      await upstreams.close();
      cancelSubscriber.disconnect();
      publisher.disconnect();
      workerConnection.disconnect();
      return { stranded: worker.jobsStranded };
    })();
    return closing;
  };
  return { worker, reloadUpstreams: () => reloadUpstreams(upstreams, config, logger), close };
}

/** A background response whose job BullMQ gave up on: failed, with the reason, unless it has ended. */
async function failBackground(store: BackgroundStore, responseId: string, reason: string): Promise<void> {
  const record = await store.read(responseId);
  if (record === undefined) return;
  const object = failedResponse(JSON.parse(record.object) as JsonObject, {
    code: 'job_failed',
    message: `The generation failed in the worker farm: ${reason}`,
  });
  await store.finish(responseId, 'failed', JSON.stringify(object), lifecycleEvent('response.failed', object));
}

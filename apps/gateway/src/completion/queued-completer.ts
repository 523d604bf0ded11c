import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  batchStepJob,
  type CompletionApi,
  type CompletionJobData,
  deadlineError,
  type ErrorDialect,
  errorAnswer,
  errors,
  type FileStorageSetting,
  type FoldRequest,
  type Logger,
  openFileStorage,
  ProxyError,
  QUEUE_PRIORITY,
  queueNames,
  type RedisTopology,
} from '@openai-proxy/shared';
import {
  BackgroundStore,
  BatchStore,
  type ChannelPubSub,
  channelPubSub,
  createRedis,
  FileStore,
  type RedisClient,
  RedisOutageLog,
  startGatewayHeartbeat,
} from '@openai-proxy/shared/redis';
import { BackgroundEventFeed } from '../background/background-event-feed.js';
import { type BackgroundQueue, BackgroundResponses } from '../background/background-responses.js';
import { BatchService } from '../batch/batch-service.js';
import type { GatewayConfig } from '../config.js';
import type { ClientDeparture } from '../pipeline/request-context.js';
import { Queue } from './bullmq-queue.js';
import { type JobAdmission, jobAdmission } from './job-admission.js';
import { LOST_JOB_CHECK_MS, LostJobWatch } from './lost-job-watch.js';
import type { CompletedAnswer, CompleteOptions, NonStreamCompleter } from './non-stream-completer.js';
import type { QueueHealth } from './queue-health.js';
import { ResultChannel } from './result-channel.js';
import { Waiters } from './waiters.js';
import { WorkerWatch } from './worker-watch.js';

type QueueSettings = Pick<
  GatewayConfig,
  | 'QUEUE_PREFIX'
  | 'REQUEST_TIMEOUT_MS'
  | 'RESULT_POLL_INTERVAL_MS'
  | 'MAX_QUEUE_DEPTH'
  | 'KEY_MAX_QUEUED'
  | 'NO_WORKERS_REFUSE_AFTER_MS'
  | 'ADMIN_API_KEYS'
  | 'BACKGROUND_TTL_SECONDS'
  | FileStorageSetting
> & { redis: RedisTopology };

/**
 * With the queue dashboard on, failed jobs stay for it to show why (the newest 100, a day at
 * most); otherwise a job's keys go as soon as it fails, like a completed job's.
 */
const KEPT_FAILED_JOBS = { count: 100, age: 24 * 3600 };

/**
 * Resolves once `redis` is ready (at once when it is). Not `events.once`: that rejects on the
 * connection's first 'error', and a gateway started before Redis keeps waiting, quietly.
 */
const connected = (redis: RedisClient): Promise<void> =>
  redis.status === 'ready'
    ? Promise.resolve()
    : new Promise((resolve) => {
        redis.once('ready', () => resolve());
      });

const queueUnavailable = () =>
  errors.unavailable('The job queue (Redis) is unavailable; try again shortly.', 'queue_unavailable', 2);

const jobLost = () =>
  errors.unavailable(
    'The job was lost in Redis (restarted without persistence, flushed, or out of memory); try again.',
    'job_lost',
    2,
  );

const noWorkers = (sinceMs: number) =>
  errors.unavailable(
    `No worker has been alive for ${Math.round(sinceMs / 1000)} s; try again shortly.`,
    'no_workers',
    5,
  );

/**
 * Queue mode: each request becomes a BullMQ job; the answer comes back on this gateway's own
 * pub/sub channel (see DESIGN.md, "The job protocol"). The pieces: admission (`MAX_QUEUE_DEPTH`),
 * the waiters and their deadlines, the result channel, the worker watch, the lost-job watch; this
 * class adds the job, withdraws it when nobody waits any more, and answers what they find.
 */
export class QueuedCompleter implements NonStreamCompleter, QueueHealth {
  readonly mode = 'queue' as const;
  readonly gatewayId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly queueHealth: QueueHealth = this;
  private readonly commands: RedisClient;
  private readonly pubSub: ChannelPubSub;
  private readonly queue: Queue;
  private readonly waiters: Waiters;
  private readonly results: ResultChannel;
  private readonly workers: WorkerWatch;
  private readonly admission: JobAdmission;
  private readonly lostJobs: LostJobWatch;
  private readonly lostTimer: NodeJS.Timeout;
  private readonly outageLog: RedisOutageLog;
  private readonly cancelChannel: string;
  /** Background responses (`POST /v1/responses` with `background: true`), kept in Redis, run by the farm. */
  readonly background: BackgroundResponses;
  private readonly backgroundFeed: BackgroundEventFeed;
  /** The Batch API (`/v1/files`, `/v1/batches`), run by the farm at batch priority. */
  readonly batches: BatchService;
  private heartbeat: { stop(): Promise<void> } | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly config: QueueSettings,
    private readonly logger: Logger,
  ) {
    const names = queueNames(config.QUEUE_PREFIX);
    this.cancelChannel = names.cancelChannel;
    this.pubSub = channelPubSub(config.redis);
    this.commands = createRedis(config.redis, 'queue', `gateway:${this.gatewayId}`);
    const subscriber = createRedis(config.redis, 'subscriber', `gateway-sub:${this.gatewayId}`);
    this.queue = new Queue(names.queue, { connection: this.commands, prefix: names.prefix });
    this.outageLog = new RedisOutageLog(logger);
    this.outageLog.watch(this.commands, 'queue');
    this.outageLog.watch(subscriber, 'subscriber');
    // The queue's errors are its connection's while Redis is away; anything else is worth a stack.
    this.queue.on('error', (error) => this.logRedisFailure(error, 'queue error'));
    this.waiters = new Waiters((jobId, timeoutMs, dialect) => void this.expire(jobId, timeoutMs, dialect));
    this.results = new ResultChannel(
      subscriber,
      this.commands,
      this.pubSub,
      names,
      names.resultsChannel(this.gatewayId),
      {
        pollIntervalMs: config.RESULT_POLL_INTERVAL_MS,
        awaited: (minAgeMs) => this.waiters.olderThan(minAgeMs),
        onAnswer: (answer) => this.waiters.resolve(answer.jobId, answer),
        logger,
      },
    );
    this.workers = new WorkerWatch(this.commands, names, config.NO_WORKERS_REFUSE_AFTER_MS, (silentForMs) => {
      // Nobody came since this gateway started: its queued jobs are refused like new requests,
      // rather than wait out their deadlines for a farm that may never start. (Once workers were
      // seen, queued jobs wait out a gap: the farm is restarting, most likely.)
      for (const jobId of this.waiters.rejectQueued(noWorkers(silentForMs))) void this.cancel(jobId);
    });
    const debug = (error: unknown) => this.logger.debug({ err: error }, 'redis command failed');
    this.admission = jobAdmission(
      this.commands,
      this.queue,
      names,
      { maxDepth: config.MAX_QUEUE_DEPTH, maxPerClient: config.KEY_MAX_QUEUED },
      debug,
    );
    this.lostJobs = new LostJobWatch(this.commands, this.queue, names);
    this.lostTimer = setInterval(() => void this.answerLostJobs(), LOST_JOB_CHECK_MS);
    this.lostTimer.unref();
    this.backgroundFeed = new BackgroundEventFeed(config.redis, names, this.pubSub, logger, this.gatewayId);
    this.background = new BackgroundResponses(
      new BackgroundStore(this.commands, names, this.pubSub, config.BACKGROUND_TTL_SECONDS),
      this.backgroundQueue(),
      this.backgroundFeed,
      config.BACKGROUND_TTL_SECONDS,
    );
    this.batches = new BatchService(
      new BatchStore(this.commands, names),
      new FileStore(this.commands, names),
      () => openFileStorage(config),
      { validate: (batchId) => this.queueBatchStep(batchId) },
    );
  }

  /**
   * Subscribes to this gateway's channel and starts beating. Resolves once subscribed, or after
   * `waitMs` without Redis: a gateway started while Redis is away listens all the same, serves
   * streams, refuses non-stream requests quickly (`isReady()` is false), and takes the queue up
   * by itself when Redis comes.
   */
  start(waitMs: number): Promise<void> {
    const names = queueNames(this.config.QUEUE_PREFIX);
    this.heartbeat = startGatewayHeartbeat(this.commands, names, this.gatewayId, (error) =>
      this.logger.debug({ err: error }, 'gateway heartbeat failed'),
    );
    // Both connections: subscribed alone, the first requests would still find the command
    // connection on its way up and be refused as if Redis were away.
    const subscribed = Promise.all([this.results.subscribe(), connected(this.commands)]).then(
      () => this.workers.sample(),
      (error: unknown) => this.logger.error({ err: error }, 'could not subscribe to the results channel'),
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    return Promise.race([subscribed, waited]).finally(() => clearTimeout(timer));
  }

  get pendingCount(): number {
    return this.waiters.size;
  }

  isReady(): boolean {
    return this.results.isListening() && this.commands.status === 'ready';
  }

  liveWorkers(): number | undefined {
    return this.workers.live();
  }

  workersMissing(): boolean {
    return this.workers.missingFor() !== undefined;
  }

  async sampleQueue(): Promise<Record<string, number>> {
    if (!this.isReady()) return {};
    return this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
  }

  async complete(
    api: CompletionApi,
    request: FoldRequest,
    timeoutMs: number,
    departure: ClientDeparture,
    { client: clientId, workClass = 'interactive' }: CompleteOptions = {},
  ): Promise<CompletedAnswer> {
    if (!this.isReady()) throw queueUnavailable();
    const silentForMs = this.workers.missingFor();
    if (silentForMs !== undefined) throw noWorkers(silentForMs);
    const jobId = randomUUID();
    const client =
      clientId === undefined || this.config.KEY_MAX_QUEUED === 0 ? undefined : { id: clientId, timeoutMs };
    const admitted = await this.admission.admit(jobId, client).catch((error: unknown) => {
      this.logRedisFailure(error, 'could not admit a job');
      throw queueUnavailable();
    });
    if (!admitted.admitted && admitted.reason === 'client_share') {
      throw new ProxyError(
        'rate_limit_exceeded',
        `This client already has ${admitted.held} requests queued or running (KEY_MAX_QUEUED); try again when one is answered.`,
        { retryAfterSeconds: 1 },
      );
    }
    if (!admitted.admitted) {
      throw errors.unavailable(
        `The queue is full (${admitted.depth} jobs waiting); try again shortly.`,
        'queue_full',
        Math.max(1, Math.ceil(this.config.RESULT_POLL_INTERVAL_MS / 1000)),
      );
    }
    const acceptedAt = Date.now();
    const data: CompletionJobData = {
      request,
      replyTo: this.results.replyTo,
      gatewayId: this.gatewayId,
      deadline: acceptedAt + timeoutMs,
      acceptedAt,
      ...(workClass === 'interactive' ? {} : { workClass }),
    };
    // Waiting before the add: a quick worker's answer may come before the add returns.
    const answer = this.waiters.add(jobId, api.errorDialect, timeoutMs, acceptedAt);
    try {
      await this.queue.add(request.kind, data, {
        jobId,
        removeOnComplete: true,
        removeOnFail: this.config.ADMIN_API_KEYS.length > 0 ? KEPT_FAILED_JOBS : true,
        attempts: 1,
        // Interactive jobs carry none: BullMQ takes those before any prioritized one.
        ...(QUEUE_PRIORITY[workClass] === undefined ? {} : { priority: QUEUE_PRIORITY[workClass] }),
      });
    } catch (error) {
      this.waiters.reject(jobId, queueUnavailable());
      this.logRedisFailure(error, 'could not queue a job');
      void answer.catch(() => undefined);
      if (client !== undefined) this.admission.leave(jobId, client);
      throw queueUnavailable();
    } finally {
      this.admission.settle(jobId);
    }
    this.waiters.markQueued(jobId);
    const stopListening = departure.onLeave((reason) => {
      if (this.waiters.reject(jobId, reason)) void this.cancel(jobId);
    });
    return answer.finally(() => {
      stopListening();
      if (client !== undefined) this.admission.leave(jobId, client);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.lostTimer);
      this.workers.close();
      // Workers skip the jobs of a gateway that left: nobody can receive their answers.
      await this.heartbeat?.stop();
      this.waiters.rejectAll(errors.unavailable('The gateway is shutting down.', 'shutting_down'));
      await this.queue.close().catch(() => undefined);
      this.results.close();
      this.backgroundFeed.close();
      this.commands.disconnect();
    })();
    return this.closing;
  }

  /** How background responses use the queue: their jobs are added, withdrawn and looked up like any other. */
  private backgroundQueue(): BackgroundQueue {
    return {
      add: async (jobId, data) => {
        if (!this.isReady()) throw queueUnavailable();
        const silentForMs = this.workers.missingFor();
        if (silentForMs !== undefined) throw noWorkers(silentForMs);
        const admitted = await this.admission.admit(jobId, undefined).catch((error: unknown) => {
          this.logRedisFailure(error, 'could not admit a job');
          throw queueUnavailable();
        });
        if (!admitted.admitted)
          throw errors.unavailable(
            `The queue is full (${'depth' in admitted ? admitted.depth : 'too many'} jobs waiting); try again shortly.`,
            'queue_full',
            Math.max(1, Math.ceil(this.config.RESULT_POLL_INTERVAL_MS / 1000)),
          );
        try {
          await this.queue.add(data.request.kind, data, {
            jobId,
            removeOnComplete: true,
            removeOnFail: this.config.ADMIN_API_KEYS.length > 0 ? KEPT_FAILED_JOBS : true,
            attempts: 1,
            priority: QUEUE_PRIORITY.background,
          });
        } catch (error) {
          this.logRedisFailure(error, 'could not queue a job');
          throw queueUnavailable();
        } finally {
          this.admission.settle(jobId);
        }
      },
      cancel: (jobId) => this.cancel(jobId),
      exists: async (jobId) => {
        const state = await this.queue.getJobState(jobId);
        return state !== 'unknown' && state !== 'completed' && state !== 'failed';
      },
    };
  }

  /** Queues a batch's check, the step that queues its lines. */
  private async queueBatchStep(batchId: string): Promise<void> {
    if (!this.isReady()) throw queueUnavailable();
    const { name, jobId, data } = batchStepJob(batchId, 'validate');
    try {
      await this.queue.add(name, data, {
        jobId,
        removeOnComplete: true,
        removeOnFail: this.config.ADMIN_API_KEYS.length > 0 ? KEPT_FAILED_JOBS : true,
        attempts: 1,
        priority: QUEUE_PRIORITY.batch,
      });
    } catch (error) {
      this.logRedisFailure(error, 'could not queue a batch');
      throw queueUnavailable();
    }
  }

  /** A failed command: part of an outage (one line per interval), or worth its own line. */
  private logRedisFailure(error: unknown, message: string): void {
    if (this.commands.status === 'ready') this.logger.warn({ err: error }, message);
    else this.outageLog.failed('queue', error);
  }

  /** Answers the waiters whose jobs vanished from Redis, at once rather than at their deadlines. */
  private async answerLostJobs(): Promise<void> {
    if (this.commands.status !== 'ready') return;
    let lost: string[];
    try {
      lost = await this.lostJobs.lost(this.waiters.queuedIds());
    } catch (error) {
      this.logger.debug({ err: error }, 'could not look for lost jobs');
      return;
    }
    for (const jobId of lost) {
      if (this.waiters.reject(jobId, jobLost()))
        this.logger.warn({ jobId }, 'job lost in Redis; answered 503 job_lost');
    }
  }

  /** The deadline passed: one last look for a stored answer, then a 504 and the job withdrawn. */
  private async expire(jobId: string, timeoutMs: number, dialect: ErrorDialect): Promise<void> {
    if (await this.results.collect(jobId)) return;
    if (
      this.waiters.resolve(jobId, errorAnswer(deadlineError('deadline_exceeded', timeoutMs), null, dialect))
    )
      await this.cancel(jobId);
  }

  /** Withdraws a job nobody waits for: removed if still waiting, aborted by its worker if active. */
  private async cancel(jobId: string): Promise<void> {
    if (this.commands.status !== 'ready') return;
    try {
      await Promise.all([
        this.queue.remove(jobId).catch(() => 0),
        this.pubSub.publish(this.commands, this.cancelChannel, jobId),
      ]);
    } catch (error) {
      this.logger.warn({ err: error, jobId }, 'could not cancel a job');
    }
  }
}

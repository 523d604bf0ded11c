import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  COMPLETION_APIS,
  type CompletionJobData,
  deadlineError,
  decodeAnswer,
  type ErrorDialect,
  errorAnswer,
  errors,
  type FoldRequest,
  type Logger,
  type ProxyError,
  type QueuedAnswer,
  type QueueNames,
  queueNames,
  type RedisTopology,
} from '@openai-proxy/shared';
import {
  type ChannelPubSub,
  channelPubSub,
  createRedis,
  type RedisClient,
  RedisOutageLog,
  startGatewayHeartbeat,
  workersAlive,
} from '@openai-proxy/shared/redis';
import type { GatewayConfig } from '../config.js';
import { Queue } from './bullmq-queue.js';
import { Deadlines } from './deadlines.js';
import { type JobAdmission, jobAdmission } from './job-admission.js';
import { LOST_JOB_CHECK_MS, LostJobWatch } from './lost-job-watch.js';
import type { CompletedAnswer, NonStreamCompleter } from './non-stream-completer.js';

interface Waiter {
  resolve(answer: CompletedAnswer): void;
  reject(error: unknown): void;
  createdAt: number;
  /** The shape of the 504 this waiter gets if its deadline passes. */
  errorDialect: ErrorDialect;
  /** Its job is in the queue (the add returned): from then on a missing job is a lost one. */
  queued: boolean;
}

type QueueSettings = Pick<
  GatewayConfig,
  | 'QUEUE_PREFIX'
  | 'REQUEST_TIMEOUT_MS'
  | 'RESULT_POLL_INTERVAL_MS'
  | 'MAX_QUEUE_DEPTH'
  | 'NO_WORKERS_REFUSE_AFTER_MS'
  | 'ADMIN_API_KEYS'
> & { redis: RedisTopology };

/**
 * With the queue dashboard on, failed jobs stay for it to show why (the newest 100, a day at
 * most); otherwise a job's keys go as soon as it fails, like a completed job's.
 */
const KEPT_FAILED_JOBS = { count: 100, age: 24 * 3600 };

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
 * pub/sub channel (see DESIGN.md, "The job protocol"). An answer published while this gateway
 * was not listening is stored by the worker and collected here; every waiter ends by its
 * deadline, so `pending` cannot grow unbounded.
 */
export class QueuedCompleter implements NonStreamCompleter {
  readonly mode = 'queue' as const;
  readonly gatewayId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly names: QueueNames;
  private readonly replyTo: string;
  private readonly commands: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly pubSub: ChannelPubSub;
  private readonly queue: Queue;
  private readonly pending = new Map<string, Waiter>();
  private readonly deadlines = new Deadlines<string>(
    (jobId, timeoutMs) => void this.expire(jobId, timeoutMs),
  );
  private readonly pollTimer: NodeJS.Timeout;
  private readonly workersTimer: NodeJS.Timeout;
  private readonly lostTimer: NodeJS.Timeout;
  private readonly admission: JobAdmission;
  private readonly lostJobs: LostJobWatch;
  private readonly outageLog: RedisOutageLog;
  private heartbeat: { stop(): Promise<void> } | undefined;
  private readonly countWorkers: () => Promise<number>;
  /** Live workers at the last sample; the gateway's start counts as a sighting, for workers to come up. */
  private workers = 0;
  private lastWorkerSeenAt = Date.now();
  /** Until a first worker is seen, waiting jobs are refused with the new ones (nobody may ever come). */
  private sawAWorker = false;
  private subscribed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly config: QueueSettings,
    private readonly logger: Logger,
  ) {
    this.names = queueNames(config.QUEUE_PREFIX);
    this.replyTo = this.names.resultsChannel(this.gatewayId);
    this.pubSub = channelPubSub(config.redis);
    this.commands = createRedis(config.redis, 'queue', `gateway:${this.gatewayId}`);
    this.subscriber = createRedis(config.redis, 'subscriber', `gateway-sub:${this.gatewayId}`);
    this.queue = new Queue(this.names.queue, { connection: this.commands, prefix: this.names.prefix });
    this.countWorkers = workersAlive(this.commands, this.names);
    this.outageLog = new RedisOutageLog(logger);
    this.outageLog.watch(this.commands, 'queue');
    this.outageLog.watch(this.subscriber, 'subscriber');
    // The queue's errors are its connection's while Redis is away; anything else is worth a stack.
    this.queue.on('error', (error) => this.logRedisFailure(error, 'queue error'));
    const debug = (error: unknown) => this.logger.debug({ err: error }, 'redis command failed');
    this.admission = jobAdmission(this.commands, this.queue, this.names, config.MAX_QUEUE_DEPTH, debug);
    this.lostJobs = new LostJobWatch(this.commands, this.queue, this.names);
    this.pubSub.onMessage(this.subscriber, (_channel, message) => this.onMessage(message));
    // After a reconnect ioredis subscribes again by itself; answers published meanwhile found
    // no listener, so the workers stored them: collect them for every waiter at once.
    this.subscriber.on('ready', () => {
      if (this.subscribed) void this.recoverMissed(0);
    });
    this.pollTimer = setInterval(
      () => void this.recoverMissed(config.RESULT_POLL_INTERVAL_MS),
      config.RESULT_POLL_INTERVAL_MS,
    );
    this.pollTimer.unref();
    this.workersTimer = setInterval(() => void this.sampleWorkers(), 500);
    this.workersTimer.unref();
    this.lostTimer = setInterval(() => void this.answerLostJobs(), LOST_JOB_CHECK_MS);
    this.lostTimer.unref();
  }

  /**
   * Subscribes to this gateway's channel and starts beating. Resolves once subscribed, or after
   * `waitMs` without Redis: a gateway started while Redis is away listens all the same, serves
   * streams, refuses non-stream requests quickly (`isReady()` is false), and takes the queue up
   * by itself when Redis comes.
   */
  start(waitMs: number): Promise<void> {
    this.heartbeat = startGatewayHeartbeat(this.commands, this.names, this.gatewayId, (error) =>
      this.logger.debug({ err: error }, 'gateway heartbeat failed'),
    );
    const subscribed = this.pubSub.subscribe(this.subscriber, this.replyTo).then(
      () => {
        this.subscribed = true;
        return this.sampleWorkers();
      },
      (error: unknown) => this.logger.error({ err: error }, 'could not subscribe to the results channel'),
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    return Promise.race([subscribed, waited]).finally(() => clearTimeout(timer));
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  isReady(): boolean {
    return this.subscribed && this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  liveWorkers(): number | undefined {
    return this.config.NO_WORKERS_REFUSE_AFTER_MS > 0 ? this.workers : undefined;
  }

  workersMissing(): boolean {
    const refuseAfter = this.config.NO_WORKERS_REFUSE_AFTER_MS;
    return refuseAfter > 0 && Date.now() - this.lastWorkerSeenAt > refuseAfter;
  }

  async complete(request: FoldRequest, timeoutMs: number, signal: AbortSignal): Promise<CompletedAnswer> {
    if (!this.isReady()) throw queueUnavailable();
    if (this.workersMissing()) throw noWorkers(Date.now() - this.lastWorkerSeenAt);
    const jobId = randomUUID();
    const admitted = await this.admission.admit(jobId).catch((error: unknown) => {
      this.logRedisFailure(error, 'could not admit a job');
      throw queueUnavailable();
    });
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
      replyTo: this.replyTo,
      gatewayId: this.gatewayId,
      deadline: acceptedAt + timeoutMs,
      acceptedAt,
    };
    const answer = new Promise<CompletedAnswer>((resolve, reject) => {
      this.pending.set(jobId, {
        resolve,
        reject,
        createdAt: acceptedAt,
        errorDialect: COMPLETION_APIS[request.kind].errorDialect,
        queued: false,
      });
    });
    this.deadlines.add(jobId, timeoutMs, acceptedAt);
    try {
      await this.queue.add(request.kind, data, {
        jobId,
        removeOnComplete: true,
        removeOnFail: this.config.ADMIN_API_KEYS.length > 0 ? KEPT_FAILED_JOBS : true,
        attempts: 1,
      });
    } catch (error) {
      this.settle(jobId);
      this.logRedisFailure(error, 'could not queue a job');
      throw queueUnavailable();
    } finally {
      this.admission.settle(jobId);
    }
    const waiter = this.pending.get(jobId);
    if (waiter !== undefined) waiter.queued = true;
    const onAbort = () => {
      const waiter = this.settle(jobId);
      if (waiter) {
        waiter.reject(signal.reason);
        void this.cancel(jobId);
      }
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return answer.finally(() => signal.removeEventListener('abort', onAbort));
  }

  async sampleQueue(): Promise<Record<string, number>> {
    if (!this.isReady()) return {};
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.pollTimer);
      clearInterval(this.workersTimer);
      clearInterval(this.lostTimer);
      // Workers skip the jobs of a gateway that left: nobody can receive their answers.
      await this.heartbeat?.stop();
      this.deadlines.clear();
      for (const [jobId, waiter] of this.pending) {
        this.settle(jobId);
        waiter.reject(errors.unavailable('The gateway is shutting down.', 'shutting_down'));
      }
      await this.queue.close().catch(() => undefined);
      this.subscriber.disconnect();
      this.commands.disconnect();
    })();
    return this.closing;
  }

  /** A failed command: part of an outage (one line per interval), or worth its own line. */
  private logRedisFailure(error: unknown, message: string): void {
    if (this.commands.status === 'ready') this.logger.warn({ err: error }, message);
    else this.outageLog.failed('queue', error);
  }

  /** The live workers, twice a second, when the gateway watches for them. */
  private async sampleWorkers(): Promise<void> {
    if (this.config.NO_WORKERS_REFUSE_AFTER_MS === 0 || this.commands.status !== 'ready') return;
    try {
      this.workers = await this.countWorkers();
    } catch {
      // Redis went away between the check and the call; the next sample will tell.
      return;
    }
    if (this.workers > 0) {
      this.lastWorkerSeenAt = Date.now();
      this.sawAWorker = true;
    } else if (!this.sawAWorker && this.workersMissing()) {
      this.refuseWaiting(noWorkers(Date.now() - this.lastWorkerSeenAt));
    }
  }

  /**
   * No worker has come since this gateway started: the jobs it queued meanwhile are refused like
   * new requests, rather than wait for their deadline for a farm that may never start. (Once
   * workers were seen, queued jobs wait out a gap: the farm is restarting, most likely.)
   */
  private refuseWaiting(error: ProxyError): void {
    for (const [jobId, waiter] of this.pending) {
      if (!waiter.queued) continue;
      this.settle(jobId);
      waiter.reject(error);
      void this.cancel(jobId);
    }
  }

  /** Answers the waiters whose jobs vanished from Redis, at once rather than at their deadlines. */
  private async answerLostJobs(): Promise<void> {
    if (this.commands.status !== 'ready') return;
    const queued = [...this.pending].filter(([, waiter]) => waiter.queued).map(([jobId]) => jobId);
    let lost: string[];
    try {
      lost = await this.lostJobs.lost(queued);
    } catch (error) {
      this.logger.debug({ err: error }, 'could not look for lost jobs');
      return;
    }
    for (const jobId of lost) {
      const waiter = this.settle(jobId);
      if (waiter === undefined) continue;
      this.logger.warn({ jobId }, 'job lost in Redis; answered 503 job_lost');
      waiter.reject(jobLost());
    }
  }

  /** Removes the waiter and its deadline; returns it when it was still waiting. */
  private settle(jobId: string): Waiter | undefined {
    const waiter = this.pending.get(jobId);
    if (waiter === undefined) return undefined;
    this.pending.delete(jobId);
    this.deadlines.remove(jobId);
    return waiter;
  }

  private onMessage(message: string): void {
    const answer: QueuedAnswer | undefined = decodeAnswer(message);
    if (answer === undefined) {
      this.logger.warn('ignoring a malformed answer message');
      return;
    }
    this.settle(answer.jobId)?.resolve(answer);
  }

  /** Reads the stored answers of waiters older than `minAgeMs`: answers no listener heard. */
  private async recoverMissed(minAgeMs: number): Promise<void> {
    const now = Date.now();
    const jobIds: string[] = [];
    for (const [id, waiter] of this.pending) {
      // `pending` is in arrival order: the rest are younger still.
      if (now - waiter.createdAt < minAgeMs) break;
      jobIds.push(id);
    }
    if (jobIds.length === 0 || this.commands.status !== 'ready') return;
    try {
      const stored = await this.commands.mget(...jobIds.map((id) => this.names.resultKey(id)));
      for (const message of stored) if (message !== null) this.onMessage(message);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read stored results');
    }
  }

  /** The deadline passed: one last look for a stored answer, then a 504 and the job withdrawn. */
  private async expire(jobId: string, timeoutMs: number): Promise<void> {
    try {
      if (this.commands.status === 'ready') {
        const stored = await this.commands.get(this.names.resultKey(jobId));
        if (stored !== null) this.onMessage(stored);
      }
    } catch {
      // Redis is away: the 504 below is the answer.
    }
    const waiter = this.settle(jobId);
    if (waiter === undefined) return;
    waiter.resolve(errorAnswer(deadlineError('deadline_exceeded', timeoutMs), null, waiter.errorDialect));
    await this.cancel(jobId);
  }

  /** Withdraws a job nobody waits for: removed if still waiting, aborted by its worker if active. */
  private async cancel(jobId: string): Promise<void> {
    if (this.commands.status !== 'ready') return;
    try {
      await Promise.all([
        this.queue.remove(jobId).catch(() => 0),
        this.pubSub.publish(this.commands, this.names.cancelChannel, jobId),
      ]);
    } catch (error) {
      this.logger.warn({ err: error, jobId }, 'could not cancel a job');
    }
  }
}

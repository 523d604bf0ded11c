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
  type Logger,
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
  workersAlive,
} from '@openai-proxy/shared/redis';
import type { GatewayConfig } from '../config.js';
import { Queue } from './bullmq-queue.js';
import { Deadlines } from './deadlines.js';
import type { CompletedAnswer, NonStreamCompleter, NonStreamJob } from './non-stream-completer.js';

interface Waiter {
  resolve(answer: CompletedAnswer): void;
  reject(error: unknown): void;
  createdAt: number;
  /** The shape of the 504 this waiter gets if its deadline passes. */
  errorDialect: ErrorDialect;
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
  private readonly depthTimer: NodeJS.Timeout;
  /** Jobs waiting for a worker, sampled twice a second (a count per request would double Redis work). */
  private queueDepth = 0;
  private readonly countWorkers: () => Promise<number>;
  /** Live workers at the last sample; the gateway's start counts as a sighting, for workers to come up. */
  private workers = 0;
  private lastWorkerSeenAt = Date.now();
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
    this.commands.on('error', (error) => this.logger.warn({ err: error }, 'redis (queue) error'));
    this.subscriber.on('error', (error) => this.logger.warn({ err: error }, 'redis (subscriber) error'));
    this.queue.on('error', (error) => this.logger.warn({ err: error }, 'queue error'));
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
    this.depthTimer = setInterval(() => void this.sample(), 500);
    this.depthTimer.unref();
  }

  /** Subscribes to this gateway's channel; call once before serving. */
  async start(): Promise<void> {
    await this.pubSub.subscribe(this.subscriber, this.replyTo);
    this.subscribed = true;
    await this.sample();
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  isReady(): boolean {
    return this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  liveWorkers(): number | undefined {
    return this.config.NO_WORKERS_REFUSE_AFTER_MS > 0 ? this.workers : undefined;
  }

  workersMissing(): boolean {
    const refuseAfter = this.config.NO_WORKERS_REFUSE_AFTER_MS;
    return refuseAfter > 0 && Date.now() - this.lastWorkerSeenAt > refuseAfter;
  }

  async complete(job: NonStreamJob, signal: AbortSignal): Promise<CompletedAnswer> {
    if (!this.isReady()) throw queueUnavailable();
    if (this.workersMissing()) {
      throw errors.unavailable(
        `No worker has been alive for ${Math.round((Date.now() - this.lastWorkerSeenAt) / 1000)} s; try again shortly.`,
        'no_workers',
        5,
      );
    }
    if (this.queueDepth >= this.config.MAX_QUEUE_DEPTH) {
      throw errors.unavailable(
        `The queue is full (${this.queueDepth} jobs waiting); try again shortly.`,
        'queue_full',
        Math.max(1, Math.ceil(this.config.RESULT_POLL_INTERVAL_MS / 1000)),
      );
    }
    const jobId = randomUUID();
    const acceptedAt = Date.now();
    const data: CompletionJobData = {
      kind: job.kind,
      body: job.body,
      headers: job.headers,
      replyTo: this.replyTo,
      deadline: acceptedAt + job.timeoutMs,
      requestId: job.requestId,
      acceptedAt,
      ...(job.clientCredential === undefined ? {} : { auth: job.clientCredential }),
    };
    const answer = new Promise<CompletedAnswer>((resolve, reject) => {
      this.pending.set(jobId, {
        resolve,
        reject,
        createdAt: acceptedAt,
        errorDialect: COMPLETION_APIS[job.kind].errorDialect,
      });
    });
    this.deadlines.add(jobId, job.timeoutMs, acceptedAt);
    try {
      await this.queue.add(job.kind, data, {
        jobId,
        removeOnComplete: true,
        removeOnFail: this.config.ADMIN_API_KEYS.length > 0 ? KEPT_FAILED_JOBS : true,
        attempts: 1,
      });
    } catch {
      this.settle(jobId);
      throw queueUnavailable();
    }
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
      clearInterval(this.depthTimer);
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

  /** The queue's depth and the live workers, twice a second. */
  private async sample(): Promise<void> {
    if (this.commands.status !== 'ready') return;
    try {
      const [depth, workers] = await Promise.all([
        this.queue.count(),
        this.config.NO_WORKERS_REFUSE_AFTER_MS > 0 ? this.countWorkers() : 0,
      ]);
      this.queueDepth = depth;
      this.workers = workers;
      if (workers > 0) this.lastWorkerSeenAt = Date.now();
    } catch {
      // Redis went away between the check and the call; the next sample will tell.
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

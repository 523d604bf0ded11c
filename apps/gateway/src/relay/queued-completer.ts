import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type CompletionJobData,
  type CompletionResult,
  createRedis,
  deadlineError,
  decodeResult,
  errors,
  type GatewayConfig,
  type Logger,
  type QueueNames,
  queueNames,
} from '@openai-proxy/shared';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CompletedAnswer, NonStreamCompleter, NonStreamJob } from './non-stream-completer.js';

interface Waiter {
  resolve(answer: CompletedAnswer): void;
  reject(error: unknown): void;
  createdAt: number;
  deadlineTimer: NodeJS.Timeout;
}

/**
 * Queue mode: each request becomes a BullMQ job; the answer comes back on this gateway's own
 * pub/sub channel (see DESIGN.md, "The job protocol"). Missed messages are recovered from the
 * job's stored result; every waiter ends by its deadline, so `pending` cannot grow unbounded.
 */
export class QueuedCompleter implements NonStreamCompleter {
  readonly mode = 'queue' as const;
  readonly gatewayId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly names: QueueNames;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly queue: Queue;
  private readonly pending = new Map<string, Waiter>();
  private readonly pollTimer: NodeJS.Timeout;
  private readonly depthTimer: NodeJS.Timeout;
  /** Jobs waiting for a worker, sampled twice a second (a count per request would double Redis work). */
  private queueDepth = 0;
  private subscribed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly config: GatewayConfig & { REDIS_URL: string },
    private readonly logger: Logger,
  ) {
    this.names = queueNames(config.QUEUE_PREFIX, config.QUEUE_NAME);
    this.commands = createRedis(config.REDIS_URL, 'queue', `gateway:${this.gatewayId}`);
    this.subscriber = createRedis(config.REDIS_URL, 'subscriber', `gateway-sub:${this.gatewayId}`);
    this.queue = new Queue(this.names.queue, { connection: this.commands, prefix: this.names.prefix });
    this.commands.on('error', (error) => this.logger.warn({ err: error }, 'redis (queue) error'));
    this.subscriber.on('error', (error) => this.logger.warn({ err: error }, 'redis (subscriber) error'));
    this.queue.on('error', (error) => this.logger.warn({ err: error }, 'queue error'));
    this.subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
    // After a reconnect ioredis subscribes again by itself; messages sent meanwhile are lost,
    // so look up the stored result of every waiter at once.
    this.subscriber.on('ready', () => {
      if (this.subscribed) void this.recoverMissed(0);
    });
    this.pollTimer = setInterval(
      () => void this.recoverMissed(config.RESULT_POLL_INTERVAL_MS),
      config.RESULT_POLL_INTERVAL_MS,
    );
    this.pollTimer.unref();
    this.depthTimer = setInterval(() => void this.sampleDepth(), 500);
    this.depthTimer.unref();
  }

  /** Subscribes to this gateway's channel; call once before serving. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.names.resultsChannel(this.gatewayId));
    this.subscribed = true;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  isReady(): boolean {
    return this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  async complete(job: NonStreamJob, signal: AbortSignal): Promise<CompletedAnswer> {
    if (!this.isReady()) {
      throw errors.unavailable(
        'The job queue (Redis) is unavailable; try again shortly.',
        'queue_unavailable',
        2,
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
      replyTo: this.names.resultsChannel(this.gatewayId),
      deadline: acceptedAt + this.config.REQUEST_TIMEOUT_MS,
      requestId: job.requestId,
      acceptedAt,
      ...(job.clientAuthorization === undefined ? {} : { auth: job.clientAuthorization }),
    };
    const answer = new Promise<CompletedAnswer>((resolve, reject) => {
      const deadlineTimer = setTimeout(() => void this.expire(jobId), this.config.REQUEST_TIMEOUT_MS);
      this.pending.set(jobId, { resolve, reject, createdAt: acceptedAt, deadlineTimer });
    });
    try {
      await this.queue.add(job.kind, data, {
        jobId,
        removeOnComplete: true,
        removeOnFail: true,
        attempts: 1,
      });
    } catch {
      this.settle(jobId);
      throw errors.unavailable(
        'The job queue (Redis) is unavailable; try again shortly.',
        'queue_unavailable',
        2,
      );
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

  private async sampleDepth(): Promise<void> {
    if (this.commands.status !== 'ready') return;
    try {
      this.queueDepth = await this.queue.count();
    } catch {
      // Redis went away between the check and the call; the next sample will tell.
    }
  }

  /** Removes the waiter and its timer; returns it when it was still waiting. */
  private settle(jobId: string): Waiter | undefined {
    const waiter = this.pending.get(jobId);
    if (waiter === undefined) return undefined;
    this.pending.delete(jobId);
    clearTimeout(waiter.deadlineTimer);
    return waiter;
  }

  private deliver(result: CompletionResult): void {
    this.settle(result.jobId)?.resolve({
      status: result.status,
      body: result.body,
      queueWaitMs: result.queueWaitMs,
      upstream: result.upstream ?? null,
      model: result.model ?? null,
      usage: result.usage ?? null,
    });
  }

  private onMessage(message: string): void {
    const result = decodeResult(message);
    if (result === undefined) {
      this.logger.warn('ignoring a malformed result message');
      return;
    }
    this.deliver(result);
  }

  /** Reads the stored results of waiters older than `minAgeMs`: answers whose message was missed. */
  private async recoverMissed(minAgeMs: number): Promise<void> {
    const now = Date.now();
    const jobIds = [...this.pending]
      .filter(([, waiter]) => now - waiter.createdAt >= minAgeMs)
      .map(([id]) => id);
    if (jobIds.length === 0 || this.commands.status !== 'ready') return;
    try {
      const stored = await this.commands.mget(...jobIds.map((id) => this.names.resultKey(id)));
      for (const message of stored) if (message !== null) this.onMessage(message);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read stored results');
    }
  }

  /** The deadline passed: one last look at the stored result, then a 504 and the job withdrawn. */
  private async expire(jobId: string): Promise<void> {
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
    waiter.resolve(errorAnswer(deadlineError('request timeout', this.config.REQUEST_TIMEOUT_MS)));
    await this.cancel(jobId);
  }

  /** Withdraws a job nobody waits for: removed if still waiting, aborted by its worker if active. */
  private async cancel(jobId: string): Promise<void> {
    if (this.commands.status !== 'ready') return;
    try {
      await Promise.all([
        this.queue.remove(jobId).catch(() => 0),
        this.commands.publish(this.names.cancelChannel, jobId),
      ]);
    } catch (error) {
      this.logger.warn({ err: error, jobId }, 'could not cancel a job');
    }
  }
}

function errorAnswer(error: ReturnType<typeof deadlineError>): CompletedAnswer {
  return { status: error.status, body: JSON.stringify(error.toBody()) };
}

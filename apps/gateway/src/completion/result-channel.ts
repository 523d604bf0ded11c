import { decodeAnswer, type Logger, type QueuedAnswer, type QueueNames } from '@openai-proxy/shared';
import type { ChannelPubSub, RedisClient } from '@openai-proxy/shared/redis';

/**
 * Where this gateway's answers arrive: its own pub/sub channel, and the answers workers stored
 * because no subscriber heard them (this gateway was reconnecting). After a reconnect ioredis
 * subscribes again by itself, and every waiter's stored answer is read at once; waiters older
 * than the poll interval are looked up on a timer too, for a message lost on a breaking
 * connection that Redis counted as delivered and so did not store.
 */
export class ResultChannel {
  private subscribed = false;
  private readonly pollTimer: NodeJS.Timeout;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly commands: RedisClient,
    private readonly pubSub: ChannelPubSub,
    private readonly names: QueueNames,
    readonly replyTo: string,
    private readonly options: {
      pollIntervalMs: number;
      /** The jobs awaited for at least `minAgeMs`. */
      awaited(minAgeMs: number): string[];
      onAnswer(answer: QueuedAnswer): void;
      logger: Logger;
    },
  ) {
    this.pubSub.onMessage(subscriber, (_channel, message) => this.take(message));
    subscriber.on('ready', () => {
      if (this.subscribed) void this.collectStored(0);
    });
    this.pollTimer = setInterval(
      () => void this.collectStored(options.pollIntervalMs),
      options.pollIntervalMs,
    );
    this.pollTimer.unref();
  }

  /** Subscribes; resolves once subscribed (the subscriber waits for Redis as long as it takes). */
  async subscribe(): Promise<void> {
    await this.pubSub.subscribe(this.subscriber, this.replyTo);
    this.subscribed = true;
  }

  /** Whether answers can arrive: subscribed, on a connection that is up. */
  isListening(): boolean {
    return this.subscribed && this.subscriber.status === 'ready';
  }

  /** One last look for a job's stored answer (its deadline passed); true when one was found. */
  async collect(jobId: string): Promise<boolean> {
    if (this.commands.status !== 'ready') return false;
    try {
      const stored = await this.commands.get(this.names.resultKey(jobId));
      return stored !== null && this.take(stored);
    } catch {
      return false;
    }
  }

  close(): void {
    clearInterval(this.pollTimer);
    this.subscriber.disconnect();
  }

  private take(message: string): boolean {
    const answer = decodeAnswer(message);
    if (answer === undefined) {
      this.options.logger.warn('ignoring a malformed answer message');
      return false;
    }
    this.options.onAnswer(answer);
    return true;
  }

  /** Reads the stored answers of the jobs awaited for at least `minAgeMs`. */
  private async collectStored(minAgeMs: number): Promise<void> {
    const jobIds = this.options.awaited(minAgeMs);
    if (jobIds.length === 0 || this.commands.status !== 'ready') return;
    try {
      const stored = await this.commands.mget(...jobIds.map((id) => this.names.resultKey(id)));
      for (const message of stored) if (message !== null) this.take(message);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not read stored results');
    }
  }
}

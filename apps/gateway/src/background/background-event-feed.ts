import type { Logger, QueueNames, RedisTopology } from '@openai-proxy/shared';
import { type ChannelPubSub, createRedis, type RedisClient } from '@openai-proxy/shared/redis';

/**
 * Wakes the streams this gateway serves from a background response's events when its worker
 * (or a cancel) says the response changed, on the response's own channel. One subscriber
 * connection for them all, opened when the first stream starts; a channel is subscribed while
 * this gateway streams that response to someone. A missed message costs a wait, not an event:
 * every stream also looks again once a second.
 */
export class BackgroundEventFeed {
  private subscriber: RedisClient | undefined;
  private readonly wakes = new Map<string, Set<() => void>>();

  constructor(
    private readonly topology: RedisTopology,
    private readonly names: QueueNames,
    private readonly pubSub: ChannelPubSub,
    private readonly logger: Logger,
    private readonly gatewayId: string,
  ) {}

  /** Calls `wake` whenever response `id` changes, until the returned function is called. */
  watch(id: string, wake: () => void): () => void {
    const channel = this.names.backgroundChannel(id);
    let wakes = this.wakes.get(channel);
    if (wakes === undefined) {
      wakes = new Set();
      this.wakes.set(channel, wakes);
      this.pubSub
        .subscribe(this.connection(), channel)
        .catch((error: unknown) =>
          this.logger.debug({ err: error, id }, 'could not subscribe to a background response'),
        );
    }
    wakes.add(wake);
    return () => {
      const current = this.wakes.get(channel);
      if (current === undefined || !current.delete(wake) || current.size > 0) return;
      this.wakes.delete(channel);
      if (this.subscriber !== undefined)
        this.pubSub.unsubscribe(this.subscriber, channel).catch(() => undefined);
    };
  }

  close(): void {
    this.subscriber?.disconnect();
  }

  private connection(): RedisClient {
    if (this.subscriber === undefined) {
      const subscriber = createRedis(this.topology, 'subscriber', `gateway-bg:${this.gatewayId}`);
      this.pubSub.onMessage(subscriber, (channel) => {
        for (const wake of this.wakes.get(channel) ?? []) wake();
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }
}

import type { RedisTopology } from '../config/redis-topology.js';
import { type RedisClient, usesShardedPubSub } from './redis-connection.js';

/**
 * The proxy's two channels (a gateway's answers, the workers' cancels) over the pub/sub that
 * suits the topology: classic on one server or Sentinel, sharded on a Cluster (see
 * `usesShardedPubSub`). Gateways and workers of one deployment read the same variables, so both
 * ends always agree.
 */
export class ChannelPubSub {
  /** The command a Lua script calls to publish (a script publishes the worker's answers). */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH';

  constructor(private readonly sharded: boolean) {
    this.publishCommand = sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  async subscribe(client: RedisClient, channel: string): Promise<void> {
    if (this.sharded) await client.ssubscribe(channel);
    else await client.subscribe(channel);
  }

  async unsubscribe(client: RedisClient, channel: string): Promise<void> {
    if (this.sharded) await client.sunsubscribe(channel);
    else await client.unsubscribe(channel);
  }

  onMessage(client: RedisClient, listener: (channel: string, message: string) => void): void {
    client.on(this.sharded ? 'smessage' : 'message', listener);
  }

  /** Receivers that got the message (on a cluster: in the channel's shard). */
  async publish(client: RedisClient, channel: string, message: string): Promise<number> {
    // ioredis types SPUBLISH's reply as unknown; Redis answers an integer, as for PUBLISH.
    return this.sharded ? Number(await client.spublish(channel, message)) : client.publish(channel, message);
  }
}

export function channelPubSub(topology: RedisTopology): ChannelPubSub {
  return new ChannelPubSub(usesShardedPubSub(topology));
}

import { encodeAnswer, type QueuedAnswer, type QueueNames } from '@openai-proxy/shared';
import type { ChannelPubSub, RedisClient } from '@openai-proxy/shared/redis';

/**
 * Publishes the answer on the gateway's channel, and stores it (for `ttlSeconds`) only when no
 * subscriber received it: the gateway was reconnecting, or is gone. So the answer crosses Redis
 * once in the common case, and a gateway that missed it finds it stored when it resubscribes.
 * One script, so the two steps cannot be separated by a failure between them.
 *
 * The channel is the script's second key: on a Redis Cluster a script may only touch its
 * declared slot, and SPUBLISH's channel counts (it shares the `{…}` tag of the result key).
 */
const publishOrStore = (publishCommand: ChannelPubSub['publishCommand']) => `
if redis.call('${publishCommand}', KEYS[2], ARGV[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1`;

interface WithPublishOrStore {
  publishOrStore(resultKey: string, channel: string, message: string, ttlSeconds: number): Promise<number>;
}

export function answerPublisher(
  redis: RedisClient,
  names: QueueNames,
  pubSub: ChannelPubSub,
  ttlSeconds: number,
) {
  redis.defineCommand('publishOrStore', { numberOfKeys: 2, lua: publishOrStore(pubSub.publishCommand) });
  const scripted = redis as RedisClient & WithPublishOrStore;
  return async (replyTo: string, answer: QueuedAnswer): Promise<void> => {
    await scripted.publishOrStore(names.resultKey(answer.jobId), replyTo, encodeAnswer(answer), ttlSeconds);
  };
}

import { encodeAnswer, type QueuedAnswer, type QueueNames } from '@openai-proxy/shared';
import type { Redis } from 'ioredis';

/**
 * Publishes the answer on the gateway's channel, and stores it (for `ttlSeconds`) only when no
 * subscriber received it: the gateway was reconnecting, or is gone. So the answer crosses Redis
 * once in the common case, and a gateway that missed it finds it stored when it resubscribes.
 * One script, so the two steps cannot be separated by a failure between them.
 */
const PUBLISH_OR_STORE = `
if redis.call('PUBLISH', ARGV[1], ARGV[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1`;

interface WithPublishOrStore {
  publishOrStore(resultKey: string, channel: string, message: string, ttlSeconds: number): Promise<number>;
}

export function answerPublisher(redis: Redis, names: QueueNames, ttlSeconds: number) {
  redis.defineCommand('publishOrStore', { numberOfKeys: 1, lua: PUBLISH_OR_STORE });
  const scripted = redis as Redis & WithPublishOrStore;
  return async (replyTo: string, answer: QueuedAnswer): Promise<void> => {
    await scripted.publishOrStore(names.resultKey(answer.jobId), replyTo, encodeAnswer(answer), ttlSeconds);
  };
}

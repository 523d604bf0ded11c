import { decodeAnswer, type QueuedAnswer, queueNames } from '@openai-proxy/shared';
import { ChannelPubSub } from '@openai-proxy/shared/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerPublisher } from '../src/answer-publisher.js';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

const TTL_SECONDS = 120;

let redis: LocalRedis;
let commands: Redis;
let jobs = 0;

beforeAll(async () => {
  redis = await startLocalRedis();
  commands = redis.connect();
});

afterAll(async () => {
  await redis?.stop();
});

function answerFor(jobId: string): QueuedAnswer {
  return {
    jobId,
    status: 200,
    body: '{"id":"chatcmpl-1","object":"chat.completion",\n"choices":[]}',
    upstream: 'primary',
    model: 'gpt-test',
    usage: { prompt_tokens: 3, completion_tokens: 5 },
    errorCode: null,
    headers: { 'x-request-id': 'up-1' },
    queueWaitMs: 42,
  };
}

// Classic pub/sub (one server, Sentinel) and sharded (a Cluster; Redis 7 serves it on one server too).
describe.each([
  ['PUBLISH', false],
  ['SPUBLISH', true],
])('answerPublisher with %s', (_command, sharded) => {
  const pubSub = new ChannelPubSub(sharded);
  const names = queueNames(sharded ? '{sharded}' : '{classic}');

  it('delivers the answer to the subscribed gateway and stores nothing', async () => {
    jobs += 1;
    const jobId = `job-${jobs}`;
    const channel = names.resultsChannel('gateway-a');
    const subscriber = redis.connect();
    await pubSub.subscribe(subscriber, channel);
    const received = new Promise<[string, string]>((resolve) => {
      pubSub.onMessage(subscriber, (from, message) => resolve([from, message]));
    });

    await answerPublisher(commands, names, pubSub, TTL_SECONDS)(channel, answerFor(jobId));

    const [from, message] = await received;
    expect(from).toBe(channel);
    expect(decodeAnswer(message)).toEqual(answerFor(jobId));
    expect(await commands.exists(names.resultKey(jobId))).toBe(0);
    subscriber.disconnect();
  });

  it('stores the answer for its TTL when nobody listens on the channel', async () => {
    jobs += 1;
    const jobId = `job-${jobs}`;
    const publish = answerPublisher(commands, names, pubSub, TTL_SECONDS);

    await publish(names.resultsChannel('gateway-gone'), answerFor(jobId));

    const stored = await commands.get(names.resultKey(jobId));
    expect(stored).not.toBeNull();
    expect(decodeAnswer(stored!)).toEqual(answerFor(jobId));
    const ttl = await commands.ttl(names.resultKey(jobId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
  });
});

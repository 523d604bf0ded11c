import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { requiredEnv } from './anchor-env.js';
import { type AnchorJob, decodeAnswer } from './bullmq-job.js';

/** Where an answer goes once it arrives: the waiting client's response. */
export type Reply<W> = (waiter: W, status: number, body: string) => void;

/**
 * The Redis side of a BullMQ anchor's gateway, the same for both: `Queue.add` of the client's
 * body, and the answer on this process's own pub/sub channel. No validation, deadlines or
 * recovery of missed messages: the queue path of the real gateway is measured against this.
 */
export async function anchorQueue<W>(reply: Reply<W>) {
  const redisUrl = requiredEnv('REDIS_URL');
  const prefix = requiredEnv('QUEUE_PREFIX');
  const queue = new Queue<AnchorJob>(requiredEnv('QUEUE_NAME'), { connection: new Redis(redisUrl), prefix });
  const subscriber = new Redis(redisUrl);
  const replyTo = `${prefix}:anchor-results:${process.pid}`;
  const waiting = new Map<string, W>();
  subscriber.on('message', (_channel: string, message: string) => {
    const answer = decodeAnswer(message);
    const waiter = waiting.get(answer.jobId);
    waiting.delete(answer.jobId);
    if (waiter !== undefined) reply(waiter, answer.status, answer.body);
  });
  await subscriber.subscribe(replyTo);

  /** Queues one request; a failed add is answered 503 at once. */
  return (body: Record<string, unknown>, waiter: W): void => {
    const jobId = randomUUID();
    waiting.set(jobId, waiter);
    const options = { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 };
    queue.add('completion', { body, replyTo }, options).catch((error: unknown) => {
      waiting.delete(jobId);
      reply(waiter, 503, String(error));
    });
  };
}

import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { announceReady, requiredEnv } from './anchor-env.js';
import { type AnchorJob, decodeAnswer } from './bullmq-job.js';

// Anchor, gateway half of the least a BullMQ pipeline can do: node:http in, `Queue.add`, then the
// answer comes back on this process's own pub/sub channel. No validation, deadlines or recovery
// of missed messages: the queue path of the real gateway is measured against this.
const redisUrl = requiredEnv('REDIS_URL');
const prefix = requiredEnv('QUEUE_PREFIX');
const queue = new Queue<AnchorJob>(requiredEnv('QUEUE_NAME'), { connection: new Redis(redisUrl), prefix });
const subscriber = new Redis(redisUrl);
const replyTo = `${prefix}:anchor-results:${process.pid}`;
const waiting = new Map<string, ServerResponse>();

subscriber.on('message', (_channel: string, message: string) => {
  const answer = decodeAnswer(message);
  const res = waiting.get(answer.jobId);
  waiting.delete(answer.jobId);
  res?.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
});
await subscriber.subscribe(replyTo);

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const jobId = randomUUID();
    waiting.set(jobId, res);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
    const options = { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 };
    queue.add('completion', { body, replyTo }, options).catch((error: unknown) => {
      waiting.delete(jobId);
      res.writeHead(503).end(String(error));
    });
  });
}).listen(Number(requiredEnv('PORT')), '127.0.0.1', announceReady);

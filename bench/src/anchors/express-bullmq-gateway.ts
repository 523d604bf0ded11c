import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import express, { type Response } from 'express';
import { Redis } from 'ioredis';
import { announceReady, requiredEnv } from './anchor-env.js';
import { type AnchorJob, decodeAnswer } from './bullmq-job.js';

// Anchor: bullmq-gateway.ts inside Express 5 — `express.raw()` reads the body, one handler queues
// it — with the same worker. Not a target's anchor: it shows what Express alone adds to the queue
// path, as express-relay.ts does for the relay.
const redisUrl = requiredEnv('REDIS_URL');
const prefix = requiredEnv('QUEUE_PREFIX');
const queue = new Queue<AnchorJob>(requiredEnv('QUEUE_NAME'), { connection: new Redis(redisUrl), prefix });
const subscriber = new Redis(redisUrl);
const replyTo = `${prefix}:anchor-results:${process.pid}`;
const waiting = new Map<string, Response>();

subscriber.on('message', (_channel: string, message: string) => {
  const answer = decodeAnswer(message);
  const res = waiting.get(answer.jobId);
  waiting.delete(answer.jobId);
  res?.status(answer.status).type('application/json').end(answer.body);
});
await subscriber.subscribe(replyTo);

const app = express();
app.disable('x-powered-by');
app.use(express.raw({ type: () => true }));
app.use((req, res) => {
  const jobId = randomUUID();
  waiting.set(jobId, res);
  const body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString() : '{}') as Record<string, unknown>;
  const options = { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 };
  queue.add('completion', { body, replyTo }, options).catch((error: unknown) => {
    waiting.delete(jobId);
    res.status(503).end(String(error));
  });
});
app.listen(Number(requiredEnv('PORT')), '127.0.0.1', announceReady);

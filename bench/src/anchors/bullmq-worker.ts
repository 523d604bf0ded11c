import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { announceReady, requiredEnv } from './anchor-env.js';
import { type AnchorJob, encodeAnswer } from './bullmq-job.js';

// Anchor, worker half: a BullMQ Worker calls the upstream with stream:true (usage included, as the
// real workers ask for it), joins the content deltas into a chat.completion and PUBLISHes it.
const redisUrl = requiredEnv('REDIS_URL');
const upstream = new URL(requiredEnv('UPSTREAM_API_URL'));
const pool = new Pool(upstream.origin);
const publisher = new Redis(redisUrl);

interface StreamChunk {
  id: string;
  created: number;
  model: string;
  choices: { delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: unknown;
}

/** The whole SSE body of one answer, folded into the non-stream shape (first choice only). */
function fold(sse: string): string {
  let head: StreamChunk | undefined;
  let content = '';
  let finishReason: string | null = null;
  let usage: unknown = null;
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const chunk = JSON.parse(line.slice('data: '.length)) as StreamChunk;
    head ??= chunk;
    content += chunk.choices[0]?.delta?.content ?? '';
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    usage = chunk.usage ?? usage;
  }
  const message = { role: 'assistant', content };
  return JSON.stringify({
    id: head?.id,
    object: 'chat.completion',
    created: head?.created,
    model: head?.model,
    choices: [{ index: 0, message, finish_reason: finishReason }],
    usage,
  });
}

const worker = new Worker<AnchorJob>(
  requiredEnv('QUEUE_NAME'),
  async (job) => {
    const { statusCode, body } = await pool.request({
      path: upstream.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...job.data.body, stream: true, stream_options: { include_usage: true } }),
    });
    const text = await body.text();
    const answer = statusCode === 200 ? fold(text) : text;
    await publisher.publish(job.data.replyTo, encodeAnswer(String(job.id), statusCode, answer));
  },
  {
    connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
    prefix: requiredEnv('QUEUE_PREFIX'),
    concurrency: Number(requiredEnv('WORKER_CONCURRENCY')),
  },
);
await worker.waitUntilReady();
announceReady();

import { createServer, type ServerResponse } from 'node:http';
import { announceReady, listenOptions } from './anchor-env.js';
import { anchorQueue } from './anchor-queue.js';

// Anchor, gateway half of the least a BullMQ pipeline can do: node:http in, `Queue.add`, then the
// answer comes back on this process's own pub/sub channel (anchor-queue.ts).
const enqueue = await anchorQueue<ServerResponse>((res, status, body) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(body),
);

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => enqueue(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>, res));
}).listen(listenOptions(), announceReady);

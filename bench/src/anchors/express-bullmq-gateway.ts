import express, { type Response } from 'express';
import { announceReady, listenOptions } from './anchor-env.js';
import { anchorQueue } from './anchor-queue.js';

// Anchor: bullmq-gateway.ts inside Express 5 — `express.raw()` reads the body, one handler queues
// it — with the same worker. Not a target's anchor: it shows what Express alone adds to the queue
// path, as express-relay.ts does for the relay.
const enqueue = await anchorQueue<Response>((res, status, body) =>
  res.status(status).type('application/json').end(body),
);

const app = express();
app.disable('x-powered-by');
app.use(express.raw({ type: () => true }));
app.use((req, res) => {
  const text = Buffer.isBuffer(req.body) ? req.body.toString() : '{}';
  enqueue(JSON.parse(text) as Record<string, unknown>, res);
});
app.listen(listenOptions(), announceReady);

import express from 'express';
import { type Dispatcher, Pool } from 'undici';
import { announceReady, listenOptions, requiredEnv } from './anchor-env.js';

// Anchor: node-relay.ts inside Express 5 — `express.raw()` reads the body, one handler relays it —
// to show what Express itself costs a relay, apart from everything the gateway adds.
const upstream = new URL(requiredEnv('UPSTREAM_API_URL'));
const pool = new Pool(upstream.origin);
const app = express();
app.disable('x-powered-by');

app.use(express.raw({ type: () => true }));
app.use((req, res) => {
  pool.stream(
    {
      path: req.url,
      method: req.method as Dispatcher.HttpMethod,
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
      body: Buffer.isBuffer(req.body) ? req.body : null,
    },
    ({ statusCode, headers }) =>
      res.status(statusCode).setHeader('content-type', String(headers['content-type'])),
    (error) => {
      if (error) res.destroy(error);
    },
  );
});
app.listen(listenOptions(), announceReady);

import { createServer } from 'node:http';
import { type Dispatcher, Pool } from 'undici';
import { announceReady, listenOptions, requiredEnv } from './anchor-env.js';

// Anchor: the least a stream relay can do — node:http in, undici `Pool.stream` out, the upstream's
// status, content type and bytes written straight into the response. No checks, logs or metrics.
const upstream = new URL(requiredEnv('UPSTREAM_API_URL'));
const pool = new Pool(upstream.origin);

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    pool.stream(
      {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
        body: chunks.length > 0 ? Buffer.concat(chunks) : null,
      },
      ({ statusCode, headers }) =>
        res.writeHead(statusCode, { 'content-type': String(headers['content-type']) }),
      (error) => {
        if (error) res.destroy(error);
      },
    );
  });
}).listen(listenOptions(), announceReady);

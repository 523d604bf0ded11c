import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { makeTlsCertificate } from '@openai-proxy/test-support';
import { Pool } from 'undici';
import { formatTable } from './report.js';

// `npm run http2-probe --workspace=@openai-proxy/bench -- [--streams n] [--seconds s]`: does one
// HTTP/2 connection carry many of the proxy's upstream calls? Many POST streams at once against a
// TLS server speaking h2 and HTTP/1.1 (ALPN), through undici Pools set up each way; counts the
// connections the server saw, the wall time against the stream's own length, and this process's RSS.
// Takes about 4 minutes: one setup runs ten streams at a time, which is what it shows.

const { values } = parseArgs({
  options: { streams: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '1' } },
});
const STREAMS = Number(values.streams);
/** The undici the apps use (the package), not the one inside Node.js. */
const UNDICI_VERSION = (createRequire(import.meta.url)('undici/package.json') as { version: string }).version;
const CHUNKS = 5;
const CHUNK_MS = (Number(values.seconds) * 1000) / CHUNKS;

interface Setup {
  name: string;
  pool: Pool.Options;
  /** undici multiplexes a request on a busy HTTP/2 connection only when it is marked idempotent. */
  idempotent: boolean;
}

const SETUPS: Setup[] = [
  {
    name: 'HTTP/1.1, a connection per stream (the default)',
    pool: { connections: STREAMS },
    idempotent: false,
  },
  { name: 'allowH2, pool as large', pool: { allowH2: true, connections: STREAMS }, idempotent: false },
  { name: 'allowH2, 10 connections', pool: { allowH2: true, connections: 10 }, idempotent: false },
  {
    name: 'allowH2, 10 connections, pipelining 1000, idempotent',
    pool: { allowH2: true, connections: 10, pipelining: 1000 },
    idempotent: true,
  },
  {
    name: 'allowH2, 1 connection, pipelining ∞, idempotent',
    pool: { allowH2: true, connections: 1, pipelining: STREAMS },
    idempotent: true,
  },
];

const certificate = await makeTlsCertificate();
let connections = 0;
const server = http2.createSecureServer(
  {
    key: readFileSync(certificate.keyFile),
    cert: readFileSync(certificate.certFile),
    allowHTTP1: true,
    settings: { maxConcurrentStreams: 1_000_000 },
  },
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(`data: {"chunk":${sent}}\n\n`);
      sent += 1;
      if (sent === CHUNKS) {
        clearInterval(timer);
        res.end('data: [DONE]\n\n');
      }
    }, CHUNK_MS);
  },
);
server.on('secureConnection', () => {
  connections += 1;
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

const rows: string[][] = [];
for (const setup of SETUPS) {
  connections = 0;
  const pool = new Pool(origin, { ...setup.pool, connect: { rejectUnauthorized: false } });
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const started = performance.now();
  const whole = await Promise.all(
    Array.from({ length: STREAMS }, async () => {
      const response = await pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"stream":true}',
        idempotent: setup.idempotent,
      });
      return (await response.body.text()).endsWith('data: [DONE]\n\n');
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  await pool.close();
  rows.push([
    setup.name,
    `${whole.filter(Boolean).length}/${STREAMS}`,
    String(connections),
    seconds.toFixed(1),
    String(Math.round((peakRss - rssBefore) / 1048576)),
  ]);
  process.stderr.write(`${setup.name}: ${seconds.toFixed(1)} s\n`);
}
server.close();
process.stdout.write(
  `${STREAMS} POST streams at once, each ${values.seconds} s (${CHUNKS} chunks), undici ${UNDICI_VERSION}\n`,
);
process.stdout.write(
  `${formatTable(['pool', 'whole', 'connections', 'seconds', 'RSS growth MB (client and server)'], rows)}\n`,
);

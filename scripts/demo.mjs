// `npm run demo`: a mock provider that only streams, the proxy in front of it, and one
// sample request of each kind, so a newcomer sees what the proxy does. Queue mode when a
// redis-server is on PATH (started here on a free port), standalone mode otherwise.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const children = [];
const start = (command, args, env) => {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
};
const waitForLine = (child, text) =>
  new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (data) => {
      seen += data;
      if (seen.includes(text)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before "${text}":\n${seen}`)));
  });
const stopAll = () => {
  for (const child of children) child.kill('SIGTERM');
};
process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});

try {
  const [mockPort, gatewayPort, redisPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const mock = start(process.execPath, ['tools/mock-upstream/dist/main.js'], {
    MOCK_PORT: String(mockPort),
    MOCK_CHUNK_DELAY_MS: '20',
  });
  await waitForLine(mock, 'listening');
  const env = {
    UPSTREAM_API_URL: `http://127.0.0.1:${mockPort}/v1/chat/completions`,
    PORT: String(gatewayPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };

  const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
  if (hasRedis) {
    const redis = start('redis-server', [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    await waitForLine(redis, 'Ready to accept connections');
    env.REDIS_URL = `redis://127.0.0.1:${redisPort}`;
    const worker = start(process.execPath, ['apps/worker/dist/main.js'], {
      ...env,
      WORKER_PROCESSES: '1',
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    });
    await waitForLine(worker, 'worker ready');
  }
  const gateway = start(process.execPath, ['apps/gateway/dist/main.js'], { ...env, LOG_LEVEL: 'info' });
  await waitForLine(gateway, 'gateway listening');
  const base = `http://127.0.0.1:${gatewayPort}`;
  console.log(
    `\nopenai-proxy demo: ${hasRedis ? 'queue mode (redis-server found)' : 'standalone mode (no redis-server on PATH)'}`,
  );
  console.log(`mock provider (streams only): http://127.0.0.1:${mockPort}   proxy: ${base}\n`);

  const body = { model: 'demo-model', messages: [{ role: 'user', content: 'Hello from the demo' }] };
  console.log(`$ curl ${base}/v1/chat/completions -d '${JSON.stringify(body)}'   # stream: false`);
  let response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  console.log(`HTTP ${response.status}\n${JSON.stringify(await response.json(), null, 2)}\n`);

  console.log('$ same request with "stream": true   # piped through untouched');
  response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  console.log(`HTTP ${response.status}\n${(await response.text()).trim()}\n`);

  console.log(`$ curl ${base}/health`);
  console.log(await (await fetch(`${base}/health`)).text());
  await sleep(100);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  stopAll();
}

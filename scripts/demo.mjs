// `npm run demo`: a mock provider that only streams, the proxy in front of it, and one sample
// request of each API (chat and legacy completions, Responses, Messages), printed as a curl
// command and answered. Queue mode when a redis-server is on PATH (started here on a free port),
// standalone mode otherwise. It then keeps running, so the printed commands can be pasted into
// another shell, until Ctrl-C (SIGINT) or SIGTERM stops it and everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const HOST = '127.0.0.1';
/** Preloaded into the node children: they stop themselves if this script dies without stopping them. */
const ORPHAN_GUARD = new URL('./stop-when-orphaned.mjs', import.meta.url).href;
/** How often this script looks whether npm (or the shell) that started it is still there. */
const PARENT_CHECK_MS = 500;

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** A string as one shell word, whatever it holds: pasted, the command sends exactly these bytes. */
const shellQuote = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * The children get only what they need, not this shell's environment: a REDIS_URL or an
 * UPSTREAMS_FILE exported for `npm start` would otherwise point the demo elsewhere, or stop it.
 */
const baseEnv = Object.fromEntries(
  ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'].flatMap((name) =>
    process.env[name] === undefined ? [] : [[name, process.env[name]]],
  ),
);

const children = new Map();
let stopping = false;

const start = (name, command, args, env = {}) => {
  const child = spawn(command, args, {
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    // Out of the terminal's process group: a Ctrl-C reaches it once, from here, so a child that
    // ends can be told apart from one that was stopped.
    detached: true,
  });
  children.set(name, child);
  child.once('exit', (code, signal) => {
    children.delete(name);
    if (stopping) {
      if (children.size === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    console.error(
      `demo: ${name} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; stopping`,
    );
    stop(1);
  });
  return child;
};
const startNode = (name, script, env) =>
  start(name, process.execPath, ['--import', ORPHAN_GUARD, script], env);

/** A pino line at warn (40) or above: worth showing; the apps' info lines would bury the samples. */
const isWarning = (line) => {
  try {
    return JSON.parse(line).level >= 40;
  } catch {
    return false;
  }
};

/**
 * Resolves once the child prints a line holding `text` (the apps log their readiness at info).
 * From then on its output is still read, so it never blocks on a full pipe, and only its
 * warnings and errors are shown.
 */
const waitForLine = (name, child, text) =>
  new Promise((resolve, reject) => {
    let ready = false;
    const seen = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (ready) {
        if (isWarning(line)) console.error(`${name}: ${line}`);
        return;
      }
      seen.push(line);
      if (!line.includes(text)) return;
      ready = true;
      seen.length = 0;
      resolve();
    });
    child.once('exit', () => {
      if (!ready) reject(new Error(`${name} exited before printing "${text}":\n${seen.join('\n')}`));
    });
  });

function stop(code) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  if (children.size === 0) process.exit(code);
  for (const child of children.values()) child.kill('SIGTERM');
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop(0);
}, PARENT_CHECK_MS).unref();

/** One sample: its curl command, then its answer (pretty JSON, or the stream as it came). */
async function sample(base, title, { path, body, headers = {} }) {
  const stream = body.stream === true;
  const allHeaders = { 'content-type': 'application/json', ...headers };
  const command = [
    stream ? 'curl -sSN' : 'curl -sS',
    `${base}${path}`,
    ...Object.entries(allHeaders).map(([name, value]) => `-H ${shellQuote(`${name}: ${value}`)}`),
    `-d ${shellQuote(JSON.stringify(body))}`,
  ].join(' ');
  console.log(`── ${title}\n$ ${command}`);
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: allHeaders,
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const shown = text.trim();
  console.log(`HTTP ${response.status}\n${shown}\n`);
}

const PROMPT = "Hello from the demo, it's me";
const SAMPLES = [
  [
    'Chat Completions, stream: false — folded by the proxy from the upstream stream',
    {
      path: '/v1/chat/completions',
      body: { model: 'demo-model', messages: [{ role: 'user', content: PROMPT }] },
    },
  ],
  [
    'Chat Completions, stream: true — piped through untouched',
    {
      path: '/v1/chat/completions',
      body: { model: 'demo-model', messages: [{ role: 'user', content: PROMPT }], stream: true },
    },
  ],
  [
    'Legacy Completions, stream: false',
    { path: '/v1/completions', body: { model: 'demo-model', prompt: PROMPT, max_tokens: 16 } },
  ],
  ['Responses API, stream: false', { path: '/v1/responses', body: { model: 'demo-model', input: PROMPT } }],
  [
    'Anthropic Messages, stream: false',
    {
      path: '/v1/messages',
      headers: { 'anthropic-version': '2023-06-01' },
      body: { model: 'demo-model', max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] },
    },
  ],
];

try {
  const [mockPort, gatewayPort, redisPort, metricsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const mock = startNode('mock upstream', 'tools/mock-upstream/dist/main.js', {
    MOCK_PORT: String(mockPort),
    MOCK_HOST: HOST,
    MOCK_CHUNK_DELAY_MS: '20',
  });
  await waitForLine('mock upstream', mock, 'listening');
  const env = {
    UPSTREAM_API_URL: `http://${HOST}:${mockPort}/v1/chat/completions`,
    PORT: String(gatewayPort),
    HOST,
  };

  const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
  if (hasRedis) {
    const redis = start('redis-server', 'redis-server', [
      '--port',
      String(redisPort),
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    await waitForLine('redis-server', redis, 'Ready to accept connections');
    env.REDIS_URL = `redis://${HOST}:${redisPort}`;
    const worker = startNode('worker', 'apps/worker/dist/main.js', {
      ...env,
      WORKER_PROCESSES: '1',
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_METRICS_HOST: HOST,
    });
    await waitForLine('worker', worker, 'worker ready');
  }
  const gateway = startNode('gateway', 'apps/gateway/dist/main.js', env);
  await waitForLine('gateway', gateway, 'gateway listening');
  const base = `http://${HOST}:${gatewayPort}`;
  console.log(
    `\nopenai-proxy demo: ${hasRedis ? 'queue mode (redis-server found on PATH)' : 'standalone mode (no redis-server on PATH)'}\n`,
  );
  console.log(`  proxy (gateway)  ${base}   send requests here; /health, /ready, /metrics`);
  console.log(`  mock provider    http://${HOST}:${mockPort}   streams only: echoes the last user message`);
  if (hasRedis) {
    console.log(`  worker metrics   http://${HOST}:${metricsPort}/metrics`);
    console.log(`  redis-server     ${env.REDIS_URL}   started for the demo, nothing saved`);
  }
  console.log('');

  for (const [title, request] of SAMPLES) await sample(base, title, request);
  console.log(`── Health\n$ curl -sS ${base}/health`);
  console.log(`${await (await fetch(`${base}/health`)).text()}\n`);
  console.log('The demo keeps running: paste any command above into another shell. Ctrl-C stops it.');
} catch (error) {
  if (!stopping) {
    console.error(error);
    stop(1);
  }
}

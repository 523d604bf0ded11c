/**
 * Old code against new, on a noisy machine: the gateway (and, on the queue path, the worker farm)
 * of another checkout and of this one run side by side with the path's anchor, on one mock
 * upstream (and one Redis), and the load alternates between them in short rounds, so that a
 * slow minute of the machine falls on every side alike. Medians of the rounds are printed.
 *
 *   npm run alternate --workspace=@openai-proxy/bench -- --before ../old-checkout --path standalone
 *
 * The other checkout must be built (`npm ci && npm run build` there).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  answers200,
  freePort,
  type SpawnedProcess,
  spawnProcess,
  startRedis,
  waitUntil,
} from '@openai-proxy/test-support';
import { type AnchorName, startAnchor } from './anchor-processes.js';
import { runLoad } from './load.js';
import { type ProcessGroup, processGroupCpuSeconds } from './process-sampler.js';
import { isChatCompletion, isCompleteStream } from './scenarios.js';

const PATHS = {
  stream: { stream: true, anchor: 'anchor-express-relay', queue: false },
  standalone: { stream: false, anchor: 'anchor-express-relay', queue: false },
  queue: { stream: false, anchor: 'anchor-bullmq', queue: true },
} as const satisfies Record<string, { stream: boolean; anchor: AnchorName; queue: boolean }>;

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    path: { type: 'string', default: 'standalone' },
    rounds: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '100' },
  },
});
const path = PATHS[values.path as keyof typeof PATHS];
if (values.before === undefined || path === undefined) {
  process.stderr.write(
    'usage: alternate --before <built checkout> [--path stream|standalone|queue] [--rounds 10] [--seconds 3] [--concurrency 100]\n',
  );
  process.exit(2);
}
const root = resolve(import.meta.dirname, '../..');
const before = resolve(values.before);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.concurrency);

const started: SpawnedProcess[] = [];
const baseEnv = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', STATS_INTERVAL_SECONDS: '0' };
const startNode = (name: string, _role: string, entry: string, env: Record<string, string>, cwd = root) => {
  const proc = spawnProcess(name, process.execPath, [entry], {
    cwd,
    env: { ...baseEnv, ...env },
    keepLines: 50,
  });
  started.push(proc);
  return proc;
};

interface Side {
  name: string;
  url: string;
  groups: ProcessGroup[];
}

try {
  const redis = path.queue ? await startRedis() : undefined;
  if (redis !== undefined) started.push(redis.process);
  const upstreamPort = await freePort();
  const upstream = startNode('upstream', 'upstream', 'tools/mock-upstream/dist/main.js', {
    MOCK_PORT: String(upstreamPort),
    MOCK_WORDS: '32',
  });
  const upstreamChatUrl = `http://127.0.0.1:${upstreamPort}/v1/chat/completions`;
  await waitUntil('upstream', upstream, () => answers200(`http://127.0.0.1:${upstreamPort}/v1/models`));

  const sides: Side[] = [];
  const anchor = await startAnchor(path.anchor, startNode, {
    upstreamChatUrl,
    redisUrl: redis?.url ?? '',
    queuePrefix: '{alt-anchor}',
    workerConcurrency: 1000,
  });
  const anchorGroups = [anchor.gateway, anchor.worker].flatMap((proc) =>
    proc === undefined ? [] : [{ name: proc.name, pid: proc.pid, withChildren: true }],
  );
  sides.push({ name: path.anchor, url: `${anchor.url}/v1/chat/completions`, groups: anchorGroups });

  for (const [name, cwd] of [
    ['before', before],
    ['after', root],
  ] as const) {
    const port = await freePort();
    const env: Record<string, string> = {
      UPSTREAM_API_URL: upstreamChatUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
    };
    const groups: ProcessGroup[] = [];
    if (redis !== undefined) {
      Object.assign(env, { REDIS_URL: redis.url, QUEUE_PREFIX: `{alt-${name}}` });
      const workers = startNode(
        `${name} workers`,
        'worker',
        'apps/worker/dist/main.js',
        {
          ...env,
          WORKER_PROCESSES: '1',
          WORKER_CONCURRENCY: '1000',
          WORKER_METRICS_PORT: '0',
        },
        cwd,
      );
      groups.push({ name: workers.name, pid: workers.pid, withChildren: true });
    }
    const gateway = startNode(`${name} gateway`, 'gateway', 'apps/gateway/dist/main.js', env, cwd);
    groups.push({ name: gateway.name, pid: gateway.pid, withChildren: true });
    await waitUntil('readiness', gateway, () => answers200(`http://127.0.0.1:${port}/ready`));
    sides.push({ name, url: `http://127.0.0.1:${port}/v1/chat/completions`, groups });
  }

  const load = (side: Side, durationSeconds: number) => {
    const stream = side.name === path.anchor ? path.anchor !== 'anchor-bullmq' : path.stream;
    return runLoad({
      url: side.url,
      body: JSON.stringify({ model: 'mock-model', stream, messages: [{ role: 'user', content: 'Hello.' }] }),
      connections,
      durationSeconds,
      timeoutSeconds: 30,
      verify: stream ? isCompleteStream : isChatCompletion,
    });
  };
  const results = new Map<string, { rps: number; cpuMicros: number; errors: number }[]>();
  for (const side of sides) await load(side, 2);
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const cpuBefore = await processGroupCpuSeconds(side.groups);
      const result = await load(side, seconds);
      const cpu = (await processGroupCpuSeconds(side.groups)) - cpuBefore;
      const list = results.get(side.name) ?? [];
      list.push({
        rps: result.requestsPerSecond,
        cpuMicros: (cpu * 1e6) / Math.max(1, result.ok),
        errors: result.errors,
      });
      results.set(side.name, list);
    }
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const anchorRps = median((results.get(path.anchor) ?? []).map((r) => r.rps));
  process.stdout.write(
    `${values.path} path, ${rounds} alternating rounds of ${seconds} s at concurrency ${connections}\n\n`,
  );
  process.stdout.write(
    '| side | req/s (median) | × anchor | CPU µs/req (median / min) | errors |\n|---|---:|---:|---:|---:|\n',
  );
  for (const side of sides) {
    const list = results.get(side.name) ?? [];
    const rps = median(list.map((r) => r.rps));
    const cpu = list.map((r) => r.cpuMicros);
    const errors = list.reduce((sum, r) => sum + r.errors, 0);
    process.stdout.write(
      `| ${side.name} | ${rps.toFixed(0)} | ${(rps / anchorRps).toFixed(2)} | ${median(cpu).toFixed(0)} / ${Math.min(...cpu).toFixed(0)} | ${errors} |\n`,
    );
  }
  process.stdout.write("\nCPU: the side's gateway and workers (Redis and the load tool not counted).\n");
} finally {
  for (const proc of started.reverse()) await proc.stop();
}

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  type AppProcess,
  freePort,
  runAppToExit,
  startApp,
  startRedis,
  type TestRedis,
} from '@openai-proxy/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// How the processes end: a start-up failure is one line and exit 1; a shutdown waits for the
// work in flight and for nothing else, whoever sends the signal (the primary alone, or the whole
// process group as a terminal's Ctrl-C and `kill -TERM -<pgid>` do).
//
// SHUTDOWN_GRACE_MS is 60 s everywhere, twice the test timeout: a shutdown that waits for the
// grace instead of for the work fails by timing out, and no assertion depends on a duration.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = { gateway: 'apps/gateway/dist/main.js', worker: 'apps/worker/dist/main.js' } as const;
const LONG_GRACE_MS = '60000';
/** Failed reconnects before Redis returns: ioredis then waits 1 s or more between attempts. */
const RECONNECT_ATTEMPTS = 5;

let redis: TestRedis;
let upstream: MockUpstream;
const apps: AppProcess[] = [];
const groups: ProcessGroup[] = [];
const blockers: Server[] = [];
let prefixCounter = 0;

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'exits' })]);
});
afterEach(async () => {
  for (const group of groups.splice(0)) group.kill();
  await Promise.all(apps.splice(0).map((app) => app.stop('SIGKILL')));
  await Promise.all(blockers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await redis.start();
  upstream.setDefault({ kind: 'echo' });
});
afterAll(async () => {
  await Promise.all([upstream.close(), redis.stop()]);
});

function queueEnv(extra: Record<string, string> = {}): Record<string, string> {
  prefixCounter += 1;
  return {
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `{exits-${process.pid}-${prefixCounter}}`,
    SHUTDOWN_GRACE_MS: LONG_GRACE_MS,
    ...extra,
  };
}

/** A port some other program already listens on. */
async function takenPort(): Promise<number> {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  blockers.push(server);
  return port;
}

/**
 * What Node prints for an error nobody handled (a stack trace, or the EPIPE of a child writing to
 * the IPC channel of a primary that is gone). Pino's JSON lines are left out: a worker logs each
 * Redis connection error while Redis is away, as a warning, and that is expected here.
 */
function traceLines(lines: readonly string[]): string[] {
  return lines.filter((line) => !line.startsWith('{') && (/^\s+at\s/.test(line) || line.includes('EPIPE')));
}

const splitLines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

/** Pino's JSON lines, parsed; other lines are left out. */
function logRecords(lines: readonly string[]): Array<{ level: number; msg: string; pid: number }> {
  const records: Array<{ level: number; msg: string; pid: number }> = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    records.push(JSON.parse(line) as { level: number; msg: string; pid: number });
  }
  return records;
}

/**
 * An app in a process group of its own (its pid is the group id), so a test can signal the
 * whole group the way a terminal or `kill -TERM -<pgid>` does. Killed with the group on cleanup.
 */
interface ProcessGroup {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
  signal(signal: NodeJS.Signals): void;
  kill(): void;
}

function startGroup(app: keyof typeof ENTRY, env: Record<string, string>): ProcessGroup {
  const child = spawn(process.execPath, [ENTRY[app]], {
    cwd: ROOT,
    detached: true,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', STATS_INTERVAL_SECONDS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (data: Buffer) => output.push(...splitLines(data.toString()));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // 'close', not 'exit': every member of the group shares these pipes, so they close only when
  // the last one has gone and all their output has been read.
  const exited = once(child, 'close').then(([code]) => code as number | null);
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  };
  const group: ProcessGroup = {
    child,
    output,
    exited,
    signal: signalGroup,
    kill() {
      try {
        signalGroup('SIGKILL');
      } catch {
        // The group is gone already.
      }
    },
  };
  groups.push(group);
  return group;
}

const readyChildren = (lines: readonly string[]) =>
  logRecords(lines).filter((record) => record.msg === 'worker ready').length;

/** How many children logged that they began their shutdown. */
const shuttingDownChildren = (lines: readonly string[]) =>
  new Set(
    logRecords(lines)
      .filter((record) => record.msg.startsWith('worker child shutting down'))
      .map((record) => record.pid),
  ).size;

async function startWorkerGroup(env: Record<string, string>, processes: number): Promise<ProcessGroup> {
  const group = startGroup('worker', {
    WORKER_PROCESSES: String(processes),
    WORKER_METRICS_PORT: '0',
    ...env,
  });
  await eventually(() => readyChildren(group.output) === processes, 15_000);
  return group;
}

describe('start-up failures: one line naming the variable, exit 1', () => {
  it('a worker whose WORKER_METRICS_PORT is taken', async () => {
    const port = await takenPort();
    const { code, output } = await runAppToExit(
      'worker',
      queueEnv({
        WORKER_PROCESSES: '2',
        WORKER_METRICS_PORT: String(port),
        WORKER_METRICS_HOST: '127.0.0.1',
      }),
    );
    expect(code).toBe(1);
    expect(splitLines(output)).toEqual([
      `openai-proxy worker: WORKER_METRICS_PORT 127.0.0.1:${port} is already in use`,
    ]);
  });

  it('a gateway whose PORT is taken', async () => {
    const port = await takenPort();
    const { code, output } = await runAppToExit('gateway', {
      UPSTREAM_API_URL: upstream.chatUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
    });
    expect(code).toBe(1);
    expect(splitLines(output)).toEqual([`openai-proxy gateway: PORT 127.0.0.1:${port} is already in use`]);
  });

  it('a gateway cluster (GATEWAY_PROCESSES=2) whose PORT is taken: the line once, the primary exits 1', async () => {
    const port = await takenPort();
    const gateway = startGroup('gateway', {
      UPSTREAM_API_URL: upstream.chatUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      GATEWAY_PROCESSES: '2',
    });
    expect(await gateway.exited).toBe(1);
    const plain = gateway.output.filter((line) => !line.startsWith('{'));
    expect(plain).toEqual([`openai-proxy gateway: PORT 127.0.0.1:${port} is already in use`]);
    // No child was replaced, and nothing but the primary's start line was logged.
    expect(logRecords(gateway.output).map((record) => record.msg)).toEqual(['cluster primary started']);
  });
});

describe('shutdown waits for the work in flight, and for nothing else', () => {
  it('SIGTERM to a worker primary while Redis is unreachable and no job is active: exits at once, code 0', async () => {
    const worker = await startApp('worker', queueEnv({ WORKER_PROCESSES: '2' }));
    apps.push(worker);
    await redis.stop();
    await worker.waitForOutput('redis unavailable');
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(traceLines(worker.output)).toEqual([]);
  });

  it('Ctrl-C (SIGINT to the whole group) just after a Redis restart: the group exits at once, code 0', async () => {
    const group = await startWorkerGroup(queueEnv({ LOG_LEVEL: 'debug' }), 2);
    await redis.stop();
    // Down long enough for ioredis to space its reconnect attempts out (each child logs a debug
    // line per connection per attempt after the first, three connections): when Redis is back,
    // the connections are still waiting for their next attempt, the moment a shutdown used to hang on.
    const redisErrors = () =>
      group.output.filter((line) => line.includes('"redis connection failed"')).length;
    await eventually(() => redisErrors() >= 2 * 3 * RECONNECT_ATTEMPTS, 15_000);
    await redis.start();
    group.signal('SIGINT');
    expect(await group.exited).toBe(0);
    expect(traceLines(group.output)).toEqual([]);
    expect(shuttingDownChildren(group.output)).toBe(2);
  });

  it('SIGTERM to the whole group while a job is in flight: the job finishes, its client gets the answer, exit 0', async () => {
    const env = queueEnv({ REQUEST_TIMEOUT_MS: '10000' });
    upstream.setDefault({ kind: 'echo', chunkDelayMs: 50, words: 30 });
    const group = await startWorkerGroup(env, 2);
    const gateway = await startApp('gateway', env);
    apps.push(gateway);
    const before = upstream.stats.requests;
    const answer = postJson(`${gateway.url}/v1/chat/completions`, chatBody('finish me'));
    await upstream.waitForRequests(before + 1);
    group.signal('SIGTERM');
    // Each child also gets the primary's own SIGTERM, at a moment that depends on scheduling.
    // Sent again here once every child is shutting down, it arrives at the moment that cut jobs
    // short, whatever the machine's timing.
    await eventually(() => shuttingDownChildren(group.output) === 2);
    group.signal('SIGTERM');
    const result = await answer;
    expect(result.status).toBe(200);
    const content = (result.json.choices as { message: { content: string } }[])[0]?.message.content;
    expect(content).toBe(Array.from({ length: 30 }, (_, i) => `w${i + 1}`).join(' '));
    expect(await group.exited).toBe(0);
    expect(traceLines(group.output)).toEqual([]);
    // The job ran once: its worker was not cut short and nobody had to take it up again.
    expect(upstream.stats.requests - before).toBe(1);
  });
});

import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  freePort,
  type SpawnedProcess,
  spawnProcess,
  startRedis,
  type TestRedis,
  waitUntil,
} from '@openai-proxy/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  findProcess,
  killMarked,
  listProcesses,
  type ProcessInfo,
  processesMarked,
  RUN_MARK,
  readProcess,
} from './support/process-tree.js';

// `npm start` and `npm run dev` as a developer or a small server runs them: the real npm, the
// script's shell, the wrapper (scripts/start-all.mjs, scripts/dev.mjs) and the apps under it.
// Signals to npm or to the wrapper reach every app, SIGHUP reloads without ending anything, and
// no app outlives the command that started it. Every process of a run carries a mark in its
// environment, so one left behind (its parent gone) is still found, and killed after the test.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GRACE_MS = 2_000;
/** npm, turbo (a cache hit, or a build when sources changed since) and the apps' own start. */
const START_TIMEOUT_MS = 180_000;
/** The grace, the wrapper's margin past it, and room for a loaded machine. */
const STOP_TIMEOUT_MS = GRACE_MS + 25_000;
const RELOAD_LINE = 'reload asked for, but upstreams come from UPSTREAM_API_URL: nothing to re-read';

let redis: TestRedis;
let upstream: MockUpstream;
const runs: NpmRun[] = [];

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'npm-scripts' })]);
});
afterEach(async () => {
  for (const run of runs.splice(0)) {
    killMarked(run.mark);
    await run.npm.stop('SIGKILL');
  }
});
afterAll(async () => {
  await Promise.all([upstream?.close(), redis?.stop()]);
});

interface NpmRun {
  npm: SpawnedProcess;
  mark: string;
  url: string;
}

/** `npm <args>` in the repository, with only the environment given here (and the run's mark). */
async function runNpm(args: string[], env: Record<string, string>): Promise<NpmRun> {
  const mark = randomUUID();
  const port = await freePort();
  const npm = spawnProcess(`npm ${args.join(' ')}`, 'npm', args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      [RUN_MARK]: mark,
      npm_config_update_notifier: 'false',
      TURBO_TELEMETRY_DISABLED: '1',
      TURBO_NO_UPDATE_NOTIFIER: '1',
      UPSTREAM_API_URL: upstream.chatUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      STATS_INTERVAL_SECONDS: '0',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      ...env,
    },
  });
  const run = { npm, mark, url: `http://127.0.0.1:${port}` };
  runs.push(run);
  return run;
}

let prefixCounter = 0;
const queueEnv = () => {
  prefixCounter += 1;
  return {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `{npm-scripts-${process.pid}-${prefixCounter}}`,
    WORKER_PROCESSES: '1',
    WORKER_METRICS_PORT: '0',
  };
};

/** Pino's JSON lines with `msg`, by the pid that logged them. */
function pidsThatLogged(lines: readonly string[], msg: string): number[] {
  const pids: number[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as { msg?: string; pid?: number };
    if (record.msg?.startsWith(msg) && record.pid !== undefined) pids.push(record.pid);
  }
  return pids;
}

/** Until `count` lines with `msg` were logged; fails with what was printed. */
async function untilLogged(run: NpmRun, msg: string, count: number): Promise<number[]> {
  await run.npm.waitForOutput(msg, 10_000);
  const deadline = Date.now() + 10_000;
  while (pidsThatLogged(run.npm.output, msg).length < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} "${msg}":\n${run.npm.output.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return pidsThatLogged(run.npm.output, msg);
}

/**
 * Until no process of the run is left. Nothing announces the last exit of a tree whose members
 * are not all our children, so /proc is read until it shows none.
 */
async function untilNoneLeft(run: NpmRun): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  let left: ProcessInfo[] = processesMarked(run.mark);
  while (left.length > 0) {
    if (Date.now() > deadline)
      throw new Error(
        `still running ${STOP_TIMEOUT_MS} ms later:\n${listProcesses(left)}\n${run.npm.output.join('\n')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = processesMarked(run.mark);
  }
}

/** The `npm start` tree once the apps are up: the wrapper, the gateway, the worker farm's primary. */
async function startTree(run: NpmRun, queue: boolean) {
  await run.npm.waitForOutput('gateway listening', START_TIMEOUT_MS);
  if (queue) await run.npm.waitForOutput('worker ready', 30_000);
  const processes = processesMarked(run.mark);
  const wrapper = findProcess(processes, 'scripts/start-all.mjs');
  const gateway = findProcess(processes, 'apps/gateway/dist/main.js');
  const worker = queue ? findProcess(processes, 'apps/worker/dist/main.js') : undefined;
  return { processes, wrapper, gateway, worker };
}

describe.each([
  { mode: 'standalone', queue: false },
  { mode: 'queue', queue: true },
])('npm start ($mode mode)', { timeout: START_TIMEOUT_MS + 2 * STOP_TIMEOUT_MS }, ({ queue }) => {
  it('passes SIGHUP on as a reload (the apps stay the wrapper’s children) and stops everything on SIGTERM to npm', async () => {
    const run = await runNpm(['start'], queue ? queueEnv() : {});
    const { wrapper, gateway, worker } = await startTree(run, queue);
    expect(gateway.ppid).toBe(wrapper.pid);
    if (worker !== undefined) expect(worker.ppid).toBe(wrapper.pid);

    process.kill(wrapper.pid, 'SIGHUP');
    // The gateway reloads, and in queue mode the worker farm's one child too (its primary passes it on).
    const reloaded = await untilLogged(run, RELOAD_LINE, queue ? 2 : 1);
    expect(reloaded).toContain(gateway.pid);
    expect(readProcess(wrapper.pid)).toBeDefined();
    expect(readProcess(gateway.pid)?.ppid).toBe(wrapper.pid);
    if (worker !== undefined) expect(readProcess(worker.pid)?.ppid).toBe(wrapper.pid);
    expect((await fetch(`${run.url}/health`)).status).toBe(200);

    process.kill(run.npm.pid, 'SIGTERM');
    await untilNoneLeft(run);
    // npm's pipes close once every process holding them is gone and all they printed was read.
    expect(await run.npm.closed).toBe(0);
    // Each app stopped by its own graceful shutdown, not by a kill.
    expect(pidsThatLogged(run.npm.output, 'gateway shutting down')).toContain(gateway.pid);
    if (queue) expect(pidsThatLogged(run.npm.output, 'worker child shutting down')).toHaveLength(1);
  });
});

describe('npm start: one part gone', { timeout: START_TIMEOUT_MS + STOP_TIMEOUT_MS }, () => {
  it('a gateway killed with SIGKILL: the wrapper names it, stops the worker farm and exits non-zero', async () => {
    const run = await runNpm(['start'], queueEnv());
    const { wrapper, gateway } = await startTree(run, true);

    process.kill(gateway.pid, 'SIGKILL');
    const line = await run.npm.waitForOutput(`gateway (pid ${gateway.pid}) was killed by SIGKILL`);
    expect(line).toMatch(/^openai-proxy: /);
    await untilNoneLeft(run);
    expect(await run.npm.closed).not.toBe(0);
    expect(pidsThatLogged(run.npm.output, 'worker child shutting down')).toHaveLength(1);
    expect(readProcess(wrapper.pid)).toBeUndefined();
  });

  it('the wrapper killed with SIGKILL: the gateway it started stops too', async () => {
    const run = await runNpm(['start'], {});
    const { wrapper, gateway } = await startTree(run, false);

    process.kill(wrapper.pid, 'SIGKILL');
    await untilNoneLeft(run);
    await run.npm.closed;
    expect(pidsThatLogged(run.npm.output, 'gateway shutting down'), run.npm.output.join('\n')).toEqual([
      gateway.pid,
    ]);
  });
});

describe('npm run dev', { timeout: START_TIMEOUT_MS + STOP_TIMEOUT_MS }, () => {
  it('stops tsx, tsc and the gateway on SIGTERM to npm', async () => {
    const run = await runNpm(['run', 'dev'], {});
    await run.npm.waitForOutput('gateway listening', START_TIMEOUT_MS);
    await run.npm.waitForOutput('Watching for file changes', START_TIMEOUT_MS);
    const processes = processesMarked(run.mark);
    const runs = (...args: string[]) =>
      processes.some((info) => args.every((arg) => info.argv.includes(arg)));
    expect(runs('watch', 'apps/gateway/src/main.ts'), listProcesses(processes)).toBe(true);
    expect(runs('--watch', 'libs/shared/tsconfig.build.json'), listProcesses(processes)).toBe(true);
    // tsx watch restarts the gateway when tsc rewrites the shared library under it: polled, not fetched once.
    await waitUntil('the gateway answering', run.npm, async () => (await fetch(`${run.url}/health`)).ok);

    process.kill(run.npm.pid, 'SIGTERM');
    await untilNoneLeft(run);
    await expect(fetch(`${run.url}/health`)).rejects.toThrow();
  });
});

import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import type { LineMatcher } from './printed-lines.js';
import { runToExit, type SpawnedProcess, spawnProcess } from './spawned-process.js';

/** The repository root, from tools/test-support/dist/. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY = { gateway: 'apps/gateway/dist/main.js', worker: 'apps/worker/dist/main.js' } as const;
const READY_LINE = { gateway: 'gateway listening', worker: 'worker ready' } as const;

export type AppName = keyof typeof ENTRY;

/** A gateway or worker farm started from its compiled JS, as operators run it. */
export interface AppProcess extends SpawnedProcess {
  /** The gateway's base URL; for a worker farm, its metrics and health endpoint. */
  readonly url: string;
  readonly port: number;
}

export interface StartAppOptions {
  /** The line that says it is ready (default: its own ready line); null to return at once. */
  waitFor?: LineMatcher | null;
}

/**
 * Starts `node apps/<app>/dist/main.js` on a free port, bound to loopback, with info logs and no
 * stats line unless `env` says otherwise; only PATH is taken from this process's environment.
 */
export async function startApp(
  app: AppName,
  env: Record<string, string>,
  options: StartAppOptions = {},
): Promise<AppProcess> {
  const portVariable = app === 'gateway' ? 'PORT' : 'WORKER_METRICS_PORT';
  const port = Number(env[portVariable] ?? (await freePort()));
  const listen: Record<string, string> =
    app === 'gateway'
      ? { PORT: String(port), HOST: '127.0.0.1' }
      : { WORKER_METRICS_PORT: String(port), WORKER_METRICS_HOST: '127.0.0.1' };
  const spawned = spawnProcess(app, process.execPath, [ENTRY[app]], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', STATS_INTERVAL_SECONDS: '0', ...listen, ...env },
  });
  const waitFor = options.waitFor === undefined ? READY_LINE[app] : options.waitFor;
  try {
    if (waitFor !== null) await spawned.waitForOutput(waitFor);
  } catch (error) {
    await spawned.stop('SIGKILL');
    throw error;
  }
  return Object.assign(spawned, { url: `http://127.0.0.1:${port}`, port });
}

/** Runs an app to its end (a start-up failure) and gives its exit code and output. */
export function runAppToExit(
  app: AppName,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return runToExit(process.execPath, [ENTRY[app]], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

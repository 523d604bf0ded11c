import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY = { gateway: 'apps/gateway/dist/main.js', worker: 'apps/worker/dist/main.js' } as const;

/** A gateway or worker started from its compiled JS, as operators run it. */
export interface AppProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Every line printed on stdout and stderr so far. */
  readonly output: string[];
  /** Resolves once a printed line contains `text`. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startApp(
  app: keyof typeof ENTRY,
  env: Record<string, string>,
  options: { waitFor?: string | RegExp } = {},
): Promise<AppProcess> {
  const port = app === 'gateway' ? Number(env.PORT ?? (await freePort())) : 0;
  const metricsPort = app === 'worker' ? Number(env.WORKER_METRICS_PORT ?? (await freePort())) : 0;
  const child = spawn(process.execPath, [ENTRY[app]], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'info',
      STATS_INTERVAL_SECONDS: '0',
      ...(app === 'gateway' ? { PORT: String(port), HOST: '127.0.0.1' } : {}),
      ...(app === 'worker'
        ? { WORKER_METRICS_PORT: String(metricsPort), WORKER_METRICS_HOST: '127.0.0.1' }
        : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const listeners = new Set<() => void>();
  const collect = (data: Buffer) => {
    for (const line of data.toString().split('\n')) if (line.trim() !== '') output.push(line);
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const waitForOutput = (text: string | RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const matches = (line: string) => (typeof text === 'string' ? line.includes(text) : text.test(line));
      const check = () => {
        const line = output.find(matches);
        if (line !== undefined) {
          cleanup();
          resolve(line);
        } else if (child.exitCode !== null) {
          cleanup();
          reject(
            new Error(
              `${app} exited (${child.exitCode}) before printing ${String(text)}:\n${output.join('\n')}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`${app} did not print ${String(text)} within ${timeoutMs} ms:\n${output.join('\n')}`),
        );
      }, timeoutMs);
      const onExit = () => check();
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
      };
      listeners.add(check);
      child.on('exit', onExit);
      check();
    });

  const defaultReady = app === 'gateway' ? 'gateway listening' : 'worker ready';
  const waitFor = options.waitFor ?? defaultReady;
  if (waitFor !== '') await waitForOutput(waitFor);
  const url = `http://127.0.0.1:${app === 'gateway' ? port : metricsPort}`;
  return {
    child,
    url,
    port: app === 'gateway' ? port : metricsPort,
    output,
    waitForOutput,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Runs an app to completion (for start-up failures) and returns its exit code and output. */
export async function runAppToExit(
  app: keyof typeof ENTRY,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [ENTRY[app]], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (data: Buffer) => {
    output += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    output += data.toString();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, output };
}

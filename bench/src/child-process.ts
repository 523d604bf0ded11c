import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** One process of the benchmarked system (Redis, the mock upstream, a gateway, the worker farm). */
export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  /** The last lines it printed, for error messages and the warning count. */
  readonly output: string[];
  /** Lines printed since start (the tail above is capped). */
  readonly linesPrinted: () => number;
  readonly exited: () => boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (a graceful exit lets `--cpu-prof` write its profile). */
  stop(graceMs?: number): Promise<void>;
}

const KEPT_LINES = 200;

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): BenchProcess {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  const output: string[] = [];
  let printed = 0;
  const collect = (data: Buffer) => {
    for (const line of data.toString().split('\n')) {
      if (line.trim() === '') continue;
      printed += 1;
      output.push(line);
      if (output.length > KEPT_LINES) output.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    pid: child.pid,
    output,
    linesPrinted: () => printed,
    exited: hasExited,
    async stop(graceMs = 10_000) {
      if (hasExited()) return;
      const exit = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` until it says yes; fails early with the process's output if it exits first. */
export async function waitUntil(
  what: string,
  proc: BenchProcess,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited()) {
      throw new Error(`${proc.name} exited before ${what}:\n${proc.output.join('\n')}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${proc.name}: no ${what} within ${timeoutMs} ms:\n${proc.output.join('\n')}`);
}

/** True when a GET on `url` answers 200. */
export async function answers200(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  await response.arrayBuffer();
  return response.status === 200;
}

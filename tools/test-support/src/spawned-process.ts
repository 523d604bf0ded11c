import { type ChildProcess, spawn } from 'node:child_process';
import { type LineMatcher, PrintedLines } from './printed-lines.js';

export interface SpawnOptions {
  cwd?: string;
  /** The whole environment of the child: nothing of this process's own is passed on unasked. */
  env: Record<string, string>;
  /** Keep only the last lines printed (a long benchmark run); all of them by default. */
  keepLines?: number;
  /** How long `stop()` waits after its signal before SIGKILL: a drain or a CPU profile takes time. */
  killAfterMs?: number;
}

/** A child process whose printed lines are collected, to wait on and to show when it fails. */
export interface SpawnedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every line printed on stdout and stderr so far. */
  readonly output: readonly string[];
  /** Lines printed since start, including any that `keepLines` dropped. */
  linesPrinted(): number;
  exited(): boolean;
  /** Its exit code once exited (null while running, or when a signal ended it). */
  readonly exitCode: number | null;
  /** Resolves with its exit code once it exited and all it printed was read. */
  readonly closed: Promise<number | null>;
  /** The first line printed that contains `text` (or matches it); fails early if it exits. */
  waitForOutput(text: LineMatcher, timeoutMs?: number): Promise<string>;
  /** Sends `signal` (SIGKILL after `killAfterMs` if still running) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): SpawnedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = new PrintedLines(name, options.keepLines);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const closed = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      lines.end(`could not start (${error.message})`);
      resolve(null);
    });
    child.once('close', (code, signal) => {
      lines.end(`exited (${code ?? signal})`);
      resolve(code);
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  for (const stream of [child.stdout, child.stderr]) {
    const sink = lines.sink();
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => sink.write(chunk));
    stream?.on('end', () => sink.flush());
  }
  return {
    name,
    child,
    pid: child.pid,
    output: lines.lines,
    linesPrinted: () => lines.printed,
    exited,
    get exitCode() {
      return child.exitCode;
    },
    closed,
    waitForOutput: (text, timeoutMs) => lines.waitFor(text, timeoutMs),
    async stop(signal = 'SIGTERM') {
      if (exited()) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 10_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs a command to its end (a start-up failure, a health check) and gives its exit code and output. */
export async function runToExit(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<{ code: number | null; output: string }> {
  const spawned = spawnProcess(command, command, args, options);
  const code = await spawned.closed;
  return { code, output: spawned.output.join('\n') };
}

/** Polls `check` until it says yes; fails early, with what it printed, if `proc` exits first. */
export async function waitUntil(
  what: string,
  proc: SpawnedProcess,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited()) throw new Error(`${proc.name} exited before ${what}:\n${proc.output.join('\n')}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${proc.name}: no ${what} within ${timeoutMs} ms:\n${proc.output.join('\n')}`);
}

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';

/** A process started from a deploy file's command line, as a supervisor would start it. */
export interface Spawned {
  readonly child: ChildProcess;
  readonly output: string[];
  waitForOutput(text: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** `node` in a deploy file's command is the Node running these tests. */
function resolveNode(command: readonly string[]): [string, string[]] {
  const [program = '', ...args] = command;
  return [program === 'node' ? process.execPath : program, args];
}

export function spawnCommand(
  command: readonly string[],
  options: { cwd: string; env: Record<string, string> },
): Spawned {
  const [program, args] = resolveNode(command);
  const child = spawn(program, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
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
  const waitForOutput = (text: RegExp, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = output.find((candidate) => text.test(candidate));
        if (line !== undefined) finish(() => resolve(line));
        else if (child.exitCode !== null || child.signalCode !== null)
          finish(() =>
            reject(new Error(`${command.join(' ')} exited before ${text}:\n${output.join('\n')}`)),
          );
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${text} within ${timeoutMs} ms:\n${output.join('\n')}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', check);
        settle();
      };
      listeners.add(check);
      child.on('exit', check);
      check();
    });
  return {
    child,
    output,
    waitForOutput,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs a command to its end (a HEALTHCHECK, say) and gives its exit code. */
export function exitCodeOf(
  command: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<number> {
  const [program, args] = resolveNode(command);
  return new Promise((resolve) => {
    const child = execFile(program, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', ...options.env },
    });
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

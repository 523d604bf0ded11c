import { runToExit, type SpawnedProcess, spawnProcess } from '@openai-proxy/test-support';

/** `node` in a deploy file's command is the Node running these tests. */
function resolveNode(command: readonly string[]): [string, string[]] {
  const [program = '', ...args] = command;
  return [program === 'node' ? process.execPath : program, args];
}

/** Starts a deploy file's command line as a supervisor would, with PATH and `env` only. */
export function spawnCommand(
  command: readonly string[],
  options: { cwd: string; env: Record<string, string> },
): SpawnedProcess {
  const [program, args] = resolveNode(command);
  return spawnProcess(command.join(' '), program, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
  });
}

/** Runs a command to its end (a HEALTHCHECK, say) and gives its exit code. */
export async function exitCodeOf(
  command: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<number> {
  const [program, args] = resolveNode(command);
  const { code } = await runToExit(program, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { PATH: process.env.PATH ?? '', ...options.env },
  });
  return code ?? -1;
}

import { readdirSync, readFileSync } from 'node:fs';

/** One process as Linux's /proc shows it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The command line, one entry an argument. */
  argv: string[];
}

/** The environment variable every process of one test run inherits, so its processes can be found. */
export const RUN_MARK = 'OPENAI_PROXY_TEST_RUN';

/**
 * A live process's parent and command line; undefined once it is gone. A zombie (exited, not yet
 * reaped by its parent) counts as gone: it runs nothing and holds no port.
 */
export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so cut after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' || state === 'X') return undefined;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    return { pid, ppid: Number(ppid), argv };
  } catch {
    return undefined;
  }
}

/**
 * Every live process whose environment carries `RUN_MARK=<mark>`: the whole tree a command
 * started, including any child its parent left behind (an orphan keeps its environment, not its
 * parent).
 */
export function processesMarked(mark: string): ProcessInfo[] {
  const wanted = `${RUN_MARK}=${mark}`;
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
    } catch {
      continue; // another user's process, or gone since the listing
    }
    if (!environ.split('\0').includes(wanted)) continue;
    const info = readProcess(Number(entry));
    if (info !== undefined) found.push(info);
  }
  return found;
}

/**
 * The process of `processes` that has `argument` among its arguments (a script's path: a shell
 * whose command line merely mentions it does not count); fails naming what there is.
 */
export function findProcess(processes: readonly ProcessInfo[], argument: string): ProcessInfo {
  const found = processes.find((info) => info.argv.includes(argument));
  if (found === undefined) throw new Error(`no process runs ${argument} among:\n${listProcesses(processes)}`);
  return found;
}

/** One line per process: pid, parent, command line. */
export function listProcesses(processes: readonly ProcessInfo[]): string {
  return processes.map((info) => `  ${info.pid} (parent ${info.ppid}): ${info.argv.join(' ')}`).join('\n');
}

/** SIGKILL to each live process of the run: the cleanup after a test that left some behind. */
export function killMarked(mark: string): void {
  for (const info of processesMarked(mark)) {
    try {
      process.kill(info.pid, 'SIGKILL');
    } catch {
      // Gone in the meantime.
    }
  }
}

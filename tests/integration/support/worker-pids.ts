import type { AppProcess } from '@openai-proxy/test-support';

/** The pids of worker children that printed their ready line (pino's `pid` field). */
export function readyWorkerPids(worker: AppProcess): number[] {
  const pids: number[] = [];
  for (const line of worker.output) {
    if (!line.includes('"worker ready"')) continue;
    try {
      const { pid } = JSON.parse(line) as { pid?: number };
      if (typeof pid === 'number') pids.push(pid);
    } catch {
      // not a JSON line
    }
  }
  return pids;
}

import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

/** Busy and total clock ticks of the whole machine, from the first line of /proc/stat. */
export async function systemTicks(): Promise<{ busy: number; total: number }> {
  const stat = await readFile('/proc/stat', 'utf8');
  const fields = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the not-busy ones.
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Busy CPU of the whole machine between two readings, as % of one core (200 = both of 2 cores). */
export function busyPercent(before: { busy: number; total: number }, after: { busy: number; total: number }) {
  const total = after.total - before.total;
  return total <= 0 ? 0 : Math.round((100 * availableParallelism() * (after.busy - before.busy)) / total);
}

/**
 * Other engineers' builds and tests share this machine: wait (up to `maxWaitMs`) until it has been
 * nearly idle for a second, so a measurement does not start in the middle of someone's compile.
 * Returns the busy % of the last second seen.
 */
export async function waitForQuietMachine(maxWaitMs: number, quietPercent = 15): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let last = 0;
  do {
    const before = await systemTicks();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    last = busyPercent(before, await systemTicks());
    if (last <= quietPercent) return last;
  } while (Date.now() < deadline);
  return last;
}

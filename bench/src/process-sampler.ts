import { readdir, readFile } from 'node:fs/promises';
import { busyPercent, systemTicks } from './system-cpu.js';

/** A named set of processes measured together: a pid and, if asked, its descendants (cluster children). */
export interface ProcessGroup {
  name: string;
  pid: number;
  withChildren: boolean;
}

export interface GroupUsage {
  /** Highest sum of resident memory over the group's processes at one sample, in MB. */
  peakRssMb: number;
  /** CPU time used during the window, as % of one core. */
  cpuPercent: number;
}

// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build.
const TICKS_PER_SECOND = 100;
const SAMPLE_INTERVAL_MS = 100;

async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const children: number[] = [];
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const item of text.split(' ')) if (item.trim() !== '') children.push(Number(item));
  }
  return children;
}

async function withDescendants(pid: number): Promise<number[]> {
  const all = [pid];
  for (let index = 0; index < all.length; index += 1) all.push(...(await childrenOf(all[index]!)));
  return all;
}

/** VmRSS of one process in kB (0 once it is gone). */
async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) : 0;
}

/** utime + stime of one process in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

function membersOf(group: ProcessGroup): Promise<number[]> {
  return group.withChildren ? withDescendants(group.pid) : Promise.resolve([group.pid]);
}

/** When the first idle reading is taken, after the cluster is ready. */
export const IDLE_START_SECONDS = 2;
/**
 * How long the idle processes are watched. V8 keeps the garbage of start-up (module loading
 * grows the young generation to 32 MB) until its idle-time collection, about 9 s after start;
 * from then on an idle process holds its lowest reading.
 */
export const IDLE_WINDOW_SECONDS = 15;

/** A process's resident memory while idle: 2 s after start, and once V8 collected start-up garbage. */
export interface IdleRss {
  atStartMb: number;
  settledMb: number;
}

/** Reads each group every 500 ms through the idle window (no load may run meanwhile). */
export async function idleRss(groups: ProcessGroup[]): Promise<Record<string, IdleRss>> {
  const readings = new Map<string, number[]>(groups.map((group) => [group.name, []]));
  const started = Date.now();
  let atStart: Map<string, number> | undefined;
  while (Date.now() - started < IDLE_WINDOW_SECONDS * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = new Map<string, number>();
    for (const group of groups) now.set(group.name, await currentRssMb(group));
    if (atStart === undefined && Date.now() - started >= IDLE_START_SECONDS * 1000) atStart = now;
    for (const [name, mb] of now) readings.get(name)?.push(mb);
  }
  const result: Record<string, IdleRss> = {};
  for (const group of groups) {
    const seen = readings.get(group.name) ?? [];
    result[group.name] = { atStartMb: atStart?.get(group.name) ?? Number.NaN, settledMb: Math.min(...seen) };
  }
  return result;
}

/** CPU seconds the groups' processes have used so far (user + system). */
export async function processGroupCpuSeconds(groups: ProcessGroup[]): Promise<number> {
  let ticks = 0;
  for (const group of groups) for (const pid of await membersOf(group)) ticks += await cpuTicks(pid);
  return ticks / TICKS_PER_SECOND;
}

/** Resident memory of a group right now, in MB (for the idle figure, before any load). */
export async function currentRssMb(group: ProcessGroup): Promise<number> {
  let total = 0;
  for (const pid of await membersOf(group)) total += await rssKb(pid);
  return Math.round(total / 1024);
}

async function groupTicks(group: ProcessGroup): Promise<Map<number, number>> {
  const ticks = new Map<number, number>();
  for (const member of await membersOf(group)) ticks.set(member, await cpuTicks(member));
  return ticks;
}

/**
 * Samples resident memory of each group every 100 ms while a scenario runs and measures the CPU
 * it used, so the report can say which process was the bottleneck.
 */
export class ProcessSampler {
  private readonly peaks = new Map<string, number>();
  private readonly startTicks = new Map<string, Map<number, number>>();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private startedAt = 0;
  private machineAtStart = { busy: 0, total: 0 };

  constructor(private readonly groups: ProcessGroup[]) {}

  async start(): Promise<void> {
    this.startedAt = performance.now();
    this.machineAtStart = await systemTicks();
    for (const group of this.groups) {
      this.peaks.set(group.name, 0);
      this.startTicks.set(group.name, await groupTicks(group));
    }
    await this.sample();
    this.timer = setInterval(() => {
      this.sampling ??= this.sample().finally(() => {
        this.sampling = undefined;
      });
    }, SAMPLE_INTERVAL_MS);
  }

  async stop(): Promise<Record<string, GroupUsage>> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const usage: Record<string, GroupUsage> = {};
    for (const group of this.groups) {
      const before = this.startTicks.get(group.name) ?? new Map<number, number>();
      let used = 0;
      // A process that started during the window counts from zero.
      for (const [pid, ticks] of await groupTicks(group)) used += ticks - (before.get(pid) ?? 0);
      usage[group.name] = {
        peakRssMb: Math.round((this.peaks.get(group.name) ?? 0) / 1024),
        cpuPercent: Math.round((100 * used) / TICKS_PER_SECOND / seconds),
      };
    }
    // Whatever else ran on the machine meanwhile (other engineers' builds, tests): a row with a
    // large `other` share was measured on a busy machine.
    const machine = busyPercent(this.machineAtStart, await systemTicks());
    const ours = Object.values(usage).reduce((sum, group) => sum + group.cpuPercent, 0);
    usage.other = { peakRssMb: 0, cpuPercent: Math.max(0, machine - ours) };
    return usage;
  }

  private async sample(): Promise<void> {
    for (const group of this.groups) {
      let total = 0;
      for (const pid of await membersOf(group)) total += await rssKb(pid);
      if (total > (this.peaks.get(group.name) ?? 0)) this.peaks.set(group.name, total);
    }
  }
}

import type { BenchOptions } from './cli.js';
import { type BenchCluster, startCluster } from './cluster.js';
import { runLoad } from './load.js';
import { type ProcessGroup, ProcessSampler } from './process-sampler.js';
import { cpuOf, perRequest, type Row } from './report.js';
import { CEILING, SCENARIOS, type Scenario } from './scenarios.js';
import { waitForQuietMachine } from './system-cpu.js';

/** Seconds one request may take in the table runs before autocannon counts a timeout. */
const REQUEST_TIMEOUT_SECONDS = 30;

function groupsFor(scenario: Scenario, cluster: BenchCluster): ProcessGroup[] {
  const groups: ProcessGroup[] = [
    { name: 'load', pid: process.pid, withChildren: false },
    { name: 'upstream', pid: cluster.upstream.pid, withChildren: false },
    { name: 'workers', pid: cluster.workers.pid, withChildren: true },
    { name: 'redis', pid: cluster.redis.pid, withChildren: false },
  ];
  const gateway = scenario.gateway === 'standalone' ? cluster.standaloneGateway : cluster.queueGateway;
  if (scenario.gateway !== undefined && gateway !== undefined) {
    groups.push({ name: 'gateway', pid: gateway.pid, withChildren: true });
  }
  return groups;
}

function assertAlive(cluster: BenchCluster): void {
  for (const proc of cluster.all()) {
    if (proc.exited()) throw new Error(`${proc.name} died during the run:\n${proc.output.join('\n')}`);
  }
}

/** At LOG_LEVEL=warn a healthy run prints nothing: show what was printed if anything was. */
function reportLogLines(
  cluster: BenchCluster,
  baseline: Map<string, number>,
  progress: (line: string) => void,
) {
  for (const proc of cluster.all()) {
    const printed = proc.linesPrinted() - (baseline.get(proc.name) ?? 0);
    if (printed > 0) progress(`note: ${proc.name} printed ${printed} lines; last: ${proc.output.at(-1)}`);
  }
}

/** Runs every scenario at every concurrency against one cluster; the ceiling first at each. */
export async function runTable(
  options: BenchOptions,
  root: string,
  progress: (line: string) => void,
): Promise<Row[]> {
  const unknown = options.only.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  const scenarios = SCENARIOS.filter(
    (scenario) =>
      scenario.name === CEILING || options.only.length === 0 || options.only.includes(scenario.name),
  );
  const cluster = await startCluster({
    root,
    words: options.words,
    chunkDelayMs: 0,
    gatewayProcesses: options.gatewayProcesses,
    workerProcesses: options.workerProcesses,
    workerConcurrency: options.workerConcurrency,
    withStandalone: scenarios.some((scenario) => scenario.gateway === 'standalone'),
    profile: options.profile,
    profileDir: `${options.resultsDir}/profiles`,
    gatewayNodeOptions: options.gatewayNodeOptions,
  });
  const rows: Row[] = [];
  const baseline = new Map(cluster.all().map((proc) => [proc.name, proc.linesPrinted()]));
  try {
    for (const concurrency of options.concurrencies) {
      let ceiling: Row | undefined;
      for (const scenario of scenarios) {
        const spec = {
          url: scenario.url(cluster),
          body: scenario.body,
          connections: concurrency,
          timeoutSeconds: REQUEST_TIMEOUT_SECONDS,
          verify: scenario.verify,
        };
        const busy = await waitForQuietMachine(options.quietWaitSeconds * 1000);
        progress(
          `${scenario.name} at concurrency ${concurrency}: machine ${busy}% busy; warm-up ${options.warmupSeconds} s`,
        );
        await runLoad({ ...spec, durationSeconds: options.warmupSeconds });
        const sampler = new ProcessSampler(groupsFor(scenario, cluster));
        await sampler.start();
        const result = await runLoad({ ...spec, durationSeconds: options.durationSeconds });
        const usage = await sampler.stop();
        assertAlive(cluster);
        const row: Row = {
          scenario: scenario.name,
          concurrency,
          ok: result.ok,
          requestsPerSecond: result.requestsPerSecond,
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          errors: result.errors,
          ratioToCeiling: ceiling ? result.requestsPerSecond / ceiling.requestsPerSecond : 1,
          addedP50Ms: ceiling ? result.p50Ms - ceiling.p50Ms : 0,
          gatewayPeakRssMb: usage.gateway?.peakRssMb,
          workersPeakRssMb: scenario.usesWorkers ? usage.workers?.peakRssMb : undefined,
          cpuPercent: cpuOf(usage),
          cpuMicrosPerRequest: perRequest(cpuOf(usage), result.requestsPerSecond),
        };
        if (scenario.name === CEILING) ceiling = row;
        rows.push(row);
        progress(
          `  ${Math.round(row.requestsPerSecond)} req/s, p50 ${row.p50Ms.toFixed(2)} ms, ` +
            `p99 ${row.p99Ms.toFixed(2)} ms, ${row.errors} errors ` +
            `(non-2xx ${result.non2xx}, socket ${result.socketErrors}, bad body ${result.badBodies})`,
        );
      }
    }
    reportLogLines(cluster, baseline, progress);
  } finally {
    await cluster.stop();
  }
  return rows;
}

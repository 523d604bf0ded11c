import type { SpawnedProcess as BenchProcess } from '@openai-proxy/test-support';
import type { BenchOptions } from './cli.js';
import { type BenchCluster, describePids, startCluster } from './cluster.js';
import { runLoad } from './load.js';
import { type IdleRss, idleRss, type ProcessGroup, ProcessSampler } from './process-sampler.js';
import { cpuOf, perRequest, type Row } from './report.js';
import { anchorsOf, CEILING, type Scenario, selectScenarios } from './scenarios.js';
import { waitForQuietMachine } from './system-cpu.js';

/** Seconds one request may take in the table runs before autocannon counts a timeout. */
const REQUEST_TIMEOUT_SECONDS = 30;

export interface TableResult {
  rows: Row[];
  /** Resident memory of each gateway-side process (children included) before any load, in MB. */
  idleRss: Record<string, IdleRss>;
}

function gatewayOf(scenario: Scenario, cluster: BenchCluster): BenchProcess | undefined {
  switch (scenario.gateway) {
    case undefined:
      return undefined;
    case 'queue':
      return cluster.queueGateway;
    case 'queue-scheduled':
      return cluster.scheduled?.gateway;
    case 'standalone':
      return cluster.standaloneGateway;
    default:
      return cluster.anchors[scenario.gateway]?.gateway;
  }
}

/** Rows without workers still sample the idle farm, so their CPU column shows it stayed idle. */
function workersOf(scenario: Scenario, cluster: BenchCluster): BenchProcess {
  if (scenario.workers === undefined || scenario.workers === 'farm') return cluster.workers;
  if (scenario.workers === 'farm-scheduled') {
    if (cluster.scheduled === undefined) throw new Error('the scheduled farm was not started');
    return cluster.scheduled.workers;
  }
  const worker = cluster.anchors[scenario.workers]?.worker;
  if (worker === undefined) throw new Error(`${scenario.workers} has no worker`);
  return worker;
}

function groupsFor(scenario: Scenario, cluster: BenchCluster): ProcessGroup[] {
  const groups: ProcessGroup[] = [
    { name: 'load', pid: process.pid, withChildren: false },
    { name: 'upstream', pid: cluster.upstream.pid, withChildren: false },
    { name: 'workers', pid: workersOf(scenario, cluster).pid, withChildren: true },
    { name: 'redis', pid: cluster.redis.pid, withChildren: false },
  ];
  const gateway = gatewayOf(scenario, cluster);
  if (gateway !== undefined) groups.push({ name: 'gateway', pid: gateway.pid, withChildren: true });
  return groups;
}

/** RSS of the gateways and anchors while idle after start, before any request is sent. */
async function idleRssOf(cluster: BenchCluster): Promise<Record<string, IdleRss>> {
  const processes = [cluster.queueGateway, cluster.standaloneGateway, cluster.scheduled?.gateway];
  for (const anchor of Object.values(cluster.anchors)) processes.push(anchor.gateway, anchor.worker);
  const groups: ProcessGroup[] = [];
  for (const proc of processes) {
    if (proc !== undefined) groups.push({ name: proc.name, pid: proc.pid, withChildren: true });
  }
  return idleRss(groups);
}

/** Fills in `× anchor` once every row of one concurrency is measured. */
function compareWithAnchors(rows: Row[]): void {
  for (const row of rows) {
    const anchor = rows.find((other) => other.scenario === row.anchor);
    if (anchor !== undefined) row.ratioToAnchor = row.requestsPerSecond / anchor.requestsPerSecond;
  }
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
): Promise<TableResult> {
  const scenarios = selectScenarios(options.only);
  const cluster = await startCluster({
    root,
    words: options.words,
    chunkDelayMs: 0,
    gatewayProcesses: options.gatewayProcesses,
    workerProcesses: options.workerProcesses,
    workerConcurrency: options.workerConcurrency,
    withStandalone: scenarios.some((scenario) => scenario.gateway === 'standalone'),
    withScheduled: scenarios.some((scenario) => scenario.gateway === 'queue-scheduled'),
    anchors: anchorsOf(scenarios),
    profile: options.profile,
    profileDir: `${options.resultsDir}/profiles`,
    gatewayNodeOptions: options.gatewayNodeOptions,
  });
  if (options.profile.length > 0) progress(describePids(cluster));
  const rows: Row[] = [];
  const baseline = new Map(cluster.all().map((proc) => [proc.name, proc.linesPrinted()]));
  try {
    const idleRss = await idleRssOf(cluster);
    for (const concurrency of options.concurrencies) {
      let ceiling: Row | undefined;
      const rowsAtConcurrency: Row[] = [];
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
          anchor: scenario.anchor,
          ratioToAnchor: undefined,
          viaWorkers: scenario.workers !== undefined,
          gatewayPeakRssMb: usage.gateway?.peakRssMb,
          workersPeakRssMb: scenario.workers !== undefined ? usage.workers?.peakRssMb : undefined,
          cpuPercent: cpuOf(usage),
          cpuMicrosPerRequest: perRequest(cpuOf(usage), result.requestsPerSecond),
        };
        if (scenario.name === CEILING) ceiling = row;
        rowsAtConcurrency.push(row);
        progress(
          `  ${Math.round(row.requestsPerSecond)} req/s, p50 ${row.p50Ms.toFixed(2)} ms, ` +
            `p99 ${row.p99Ms.toFixed(2)} ms, ${row.errors} errors ` +
            `(non-2xx ${result.non2xx}, socket ${result.socketErrors}, bad body ${result.badBodies})`,
        );
      }
      compareWithAnchors(rowsAtConcurrency);
      rows.push(...rowsAtConcurrency);
    }
    reportLogLines(cluster, baseline, progress);
    return { rows, idleRss };
  } finally {
    await cluster.stop();
  }
}

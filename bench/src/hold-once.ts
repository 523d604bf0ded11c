import type { AnchorName } from './anchor-processes.js';
import type { BenchOptions } from './cli.js';
import { type BenchCluster, startCluster } from './cluster.js';
import { runLoad } from './load.js';
import { currentRssMb, idleRss, type ProcessGroup, ProcessSampler } from './process-sampler.js';
import { cpuOf } from './report.js';
import type { Scenario } from './scenarios.js';
import { waitForQuietMachine } from './system-cpu.js';
import { type UpstreamTimeline, UpstreamWatch } from './upstream-watch.js';

/** Per-request limit: a held request may wait for its whole stream plus queueing (at least this). */
const REQUEST_TIMEOUT_SECONDS = 120;

/**
 * The slow upstream stream of a hold: `--hold-seconds` long, a chunk every `--hold-chunk-delay`.
 * Chunks are role, one per word, stop, usage and [DONE]; the mock waits the delay between two.
 */
export function holdStream(options: BenchOptions): { words: number; streamSeconds: number } {
  const words = Math.max(1, Math.round((options.holdSeconds * 1000) / options.holdChunkDelayMs) - 3);
  return { words, streamSeconds: ((words + 3) * options.holdChunkDelayMs) / 1000 };
}

/**
 * A cluster whose upstream answers with the hold's stream (`holdStream`), with the anchors a hold
 * needs; the anchor's one worker process holds as many jobs as the whole farm.
 */
export function startHoldCluster(
  options: BenchOptions,
  root: string,
  anchors: AnchorName[],
): Promise<BenchCluster> {
  return startCluster({
    root,
    words: holdStream(options).words,
    chunkDelayMs: options.holdChunkDelayMs,
    gatewayProcesses: options.gatewayProcesses,
    workerProcesses: options.workerProcesses,
    workerConcurrency: options.workerConcurrency,
    anchorWorkerConcurrency: options.workerProcesses * options.workerConcurrency,
    withStandalone: false,
    withScheduled: false,
    anchors,
    profile: options.profile,
    profileDir: `${options.resultsDir}/profiles`,
    gatewayNodeOptions: options.gatewayNodeOptions,
    appEnv: options.appEnv,
  });
}

/** What holding the requests cost one process group (a gateway, or the worker farm). */
export interface HeldMemory {
  /** Idle RSS once V8 collected start-up garbage, before the held requests. */
  idleMb: number;
  /** The same 2 s after start, before that collection. */
  startMb: number;
  peakMb: number;
  /** (peak − idle) ÷ requests held, in KB: the burst's garbage not yet collected counts too. */
  kbPerHeld: number;
  /** RSS late in the hold, every request held and none answered yet (90 % of a stream's length in). */
  heldMb: number;
  /** (held − idle) ÷ requests held, in KB: what holding them costs once the burst's garbage settled. */
  kbPerHeldSteady: number;
}

export interface HoldMeasure {
  scenario: string;
  requests: number;
  answered: number;
  errors: number;
  non2xx: number;
  socketErrors: number;
  badBodies: number;
  wallSeconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  upstream: UpstreamTimeline;
  gateway: HeldMemory | undefined;
  workers: HeldMemory | undefined;
  cpuPercent: Record<string, number>;
}

/** The processes that take a scenario's requests and fold them, as the sampler's groups. */
function groupsOf(
  cluster: BenchCluster,
  scenario: Scenario,
): { gateway?: ProcessGroup; workers?: ProcessGroup } {
  const group = (name: string, pid: number | undefined, withChildren: boolean) =>
    pid === undefined ? undefined : { name, pid, withChildren };
  const anchorOf = (name: string) => cluster.anchors[name as keyof BenchCluster['anchors']];
  const gatewayPid =
    scenario.gateway === 'queue'
      ? cluster.queueGateway.pid
      : scenario.gateway === undefined
        ? undefined
        : anchorOf(scenario.gateway)?.gateway.pid;
  const workersPid =
    scenario.workers === 'farm'
      ? cluster.workers.pid
      : scenario.workers === undefined
        ? undefined
        : anchorOf(scenario.workers)?.worker?.pid;
  return { gateway: group('gateway', gatewayPid, true), workers: group('workers', workersPid, true) };
}

const kbPer = (mb: number, requests: number) => Math.round((mb * 1024 * 10) / requests) / 10;

function heldMemory(
  idle: { settledMb: number; atStartMb: number } | undefined,
  peakMb: number | undefined,
  heldMb: number | undefined,
  requests: number,
): HeldMemory | undefined {
  if (idle === undefined || peakMb === undefined || heldMb === undefined) return undefined;
  return {
    idleMb: idle.settledMb,
    startMb: idle.atStartMb,
    peakMb,
    kbPerHeld: kbPer(peakMb - idle.settledMb, requests),
    heldMb,
    kbPerHeldSteady: kbPer(heldMb - idle.settledMb, requests),
  };
}

/** Each group's RSS `afterMs` from now (undefined for a group that is not there). */
async function rssLater(
  groups: (ProcessGroup | undefined)[],
  afterMs: number,
): Promise<(number | undefined)[]> {
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  return Promise.all(groups.map((group) => (group === undefined ? undefined : currentRssMb(group))));
}

/**
 * `requests` requests of `scenario` at once, each answered only once the slow upstream's stream
 * ends: every answer checked, completion percentiles, each group's memory above its idle and CPU,
 * and when the streams reached and left the upstream.
 */
export async function holdOnce(
  cluster: BenchCluster,
  scenario: Scenario,
  requests: number,
  holdSeconds: number,
  quietWaitSeconds: number,
): Promise<HoldMeasure> {
  const { gateway, workers } = groupsOf(cluster, scenario);
  const measured = [gateway, workers].filter((group): group is ProcessGroup => group !== undefined);
  const sampler = new ProcessSampler([
    { name: 'load', pid: process.pid, withChildren: false },
    { name: 'upstream', pid: cluster.upstream.pid, withChildren: false },
    ...measured,
    { name: 'redis', pid: cluster.redis.pid, withChildren: false },
  ]);
  const idle = await idleRss(measured);
  await waitForQuietMachine(quietWaitSeconds * 1000);
  const watch = new UpstreamWatch(cluster.upstreamChatUrl, requests);
  await sampler.start();
  await watch.start();
  const steady = rssLater([gateway, workers], holdSeconds * 900);
  const result = await runLoad({
    url: scenario.url(cluster),
    body: scenario.body,
    connections: requests,
    amount: requests,
    timeoutSeconds: Math.max(REQUEST_TIMEOUT_SECONDS, holdSeconds * 6),
    verify: scenario.verify,
  });
  const upstream = await watch.stop();
  const usage = await sampler.stop();
  const [gatewayHeldMb, workersHeldMb] = await steady;
  return {
    scenario: scenario.name,
    requests,
    answered: result.ok,
    errors: result.errors,
    non2xx: result.non2xx,
    socketErrors: result.socketErrors,
    badBodies: result.badBodies,
    wallSeconds: result.seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    maxMs: result.maxMs,
    upstream,
    gateway: heldMemory(idle.gateway, usage.gateway?.peakRssMb, gatewayHeldMb, requests),
    workers: heldMemory(idle.workers, usage.workers?.peakRssMb, workersHeldMb, requests),
    cpuPercent: cpuOf(usage),
  };
}

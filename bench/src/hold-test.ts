import type { BenchOptions } from './cli.js';
import { describePids, startCluster } from './cluster.js';
import { runLoad } from './load.js';
import { idleRss, ProcessSampler } from './process-sampler.js';
import { cpuOf } from './report.js';
import { SCENARIOS } from './scenarios.js';
import { waitForQuietMachine } from './system-cpu.js';
import { HOLD_RSS_TARGET_MB, IDLE_RSS_TARGET_MB } from './targets.js';

/** Per-request limit: a held request may wait for its whole stream plus queueing (at least this). */
const REQUEST_TIMEOUT_SECONDS = 120;
/** The issue's ceiling for the gateway holding 1,000 waiting requests. */
export const HOLD_RSS_LIMIT_MB = 150;

export interface HoldResult {
  requests: number;
  answered: number;
  errors: number;
  non2xx: number;
  socketErrors: number;
  badBodies: number;
  streamSeconds: number;
  wallSeconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The queue gateway's idle RSS before the held requests, once V8 collected start-up garbage. */
  gatewayIdleRssMb: number;
  /** The same 2 s after start, before V8 collected the garbage of start-up. */
  gatewayStartRssMb: number;
  gatewayPeakRssMb: number;
  workersPeakRssMb: number;
  cpuPercent: Record<string, number>;
  passed: boolean;
}

/**
 * `--hold-requests` non-stream requests at once through the queue against an upstream that takes
 * `--hold-seconds` per stream: every request must be answered with a correct completion while the
 * gateway holds them.
 */
export async function runHoldTest(
  options: BenchOptions,
  root: string,
  progress: (line: string) => void,
): Promise<HoldResult> {
  // Chunks: role, one per word, stop, usage, [DONE]; the mock waits the delay between two chunks.
  const words = Math.max(1, Math.round((options.holdSeconds * 1000) / options.holdChunkDelayMs) - 3);
  const streamSeconds = ((words + 3) * options.holdChunkDelayMs) / 1000;
  const cluster = await startCluster({
    root,
    words,
    chunkDelayMs: options.holdChunkDelayMs,
    gatewayProcesses: options.gatewayProcesses,
    workerProcesses: options.workerProcesses,
    workerConcurrency: options.workerConcurrency,
    withStandalone: false,
    withScheduled: false,
    anchors: [],
    profile: options.profile,
    profileDir: `${options.resultsDir}/profiles`,
    gatewayNodeOptions: options.gatewayNodeOptions,
    appEnv: options.appEnv,
  });
  if (options.profile.length > 0) progress(describePids(cluster));
  try {
    const scenario = SCENARIOS.find((item) => item.name === 'queue-nonstream')!;
    const gateway = { name: 'gateway', pid: cluster.queueGateway.pid, withChildren: true };
    const sampler = new ProcessSampler([
      { name: 'load', pid: process.pid, withChildren: false },
      { name: 'upstream', pid: cluster.upstream.pid, withChildren: false },
      gateway,
      { name: 'workers', pid: cluster.workers.pid, withChildren: true },
      { name: 'redis', pid: cluster.redis.pid, withChildren: false },
    ]);
    progress(
      `hold test: ${options.holdRequests} concurrent non-stream requests, ${streamSeconds.toFixed(1)} s per ` +
        `upstream stream, ${options.workerProcesses} × ${options.workerConcurrency} worker slots`,
    );
    const gatewayIdle = (await idleRss([gateway]))[gateway.name];
    await waitForQuietMachine(options.quietWaitSeconds * 1000);
    await sampler.start();
    const result = await runLoad({
      url: scenario.url(cluster),
      body: scenario.body,
      connections: options.holdRequests,
      amount: options.holdRequests,
      timeoutSeconds: Math.max(REQUEST_TIMEOUT_SECONDS, options.holdSeconds * 6),
      verify: scenario.verify,
    });
    const usage = await sampler.stop();
    const gatewayPeakRssMb = usage.gateway?.peakRssMb ?? Number.NaN;
    return {
      requests: options.holdRequests,
      answered: result.ok,
      errors: result.errors,
      non2xx: result.non2xx,
      socketErrors: result.socketErrors,
      badBodies: result.badBodies,
      streamSeconds,
      wallSeconds: result.seconds,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      maxMs: result.maxMs,
      gatewayIdleRssMb: gatewayIdle?.settledMb ?? Number.NaN,
      gatewayStartRssMb: gatewayIdle?.atStartMb ?? Number.NaN,
      gatewayPeakRssMb,
      workersPeakRssMb: usage.workers?.peakRssMb ?? Number.NaN,
      cpuPercent: cpuOf(usage),
      passed:
        result.ok === options.holdRequests && result.errors === 0 && gatewayPeakRssMb <= HOLD_RSS_LIMIT_MB,
    };
  } finally {
    await cluster.stop();
  }
}

const metOrMissed = (met: boolean) => (met ? 'met' : 'missed');

export function formatHold(result: HoldResult): string {
  return [
    `hold test: ${result.answered}/${result.requests} answered, ${result.errors} errors ` +
      `(non-2xx ${result.non2xx}, socket ${result.socketErrors}, bad body ${result.badBodies}) ` +
      `in ${result.wallSeconds.toFixed(1)} s; upstream stream ${result.streamSeconds.toFixed(1)} s`,
    `latency p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms, max ${result.maxMs.toFixed(0)} ms`,
    `gateway RSS: idle ${result.gatewayIdleRssMb} MB settled, ${result.gatewayStartRssMb} MB 2 s after start (target ≤ ${IDLE_RSS_TARGET_MB}: ` +
      `${metOrMissed(result.gatewayIdleRssMb <= IDLE_RSS_TARGET_MB)}), peak ${result.gatewayPeakRssMb} MB ` +
      `(target ≤ ${HOLD_RSS_TARGET_MB}: ${metOrMissed(result.gatewayPeakRssMb <= HOLD_RSS_TARGET_MB)}; ` +
      `the test fails above ${HOLD_RSS_LIMIT_MB}); workers peak RSS ${result.workersPeakRssMb} MB`,
    `CPU % of one core: ${Object.entries(result.cpuPercent)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ')}`,
    result.passed ? 'PASS' : 'FAIL',
  ].join('\n');
}

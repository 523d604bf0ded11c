import type { BenchOptions } from './cli.js';
import { describePids } from './cluster.js';
import { holdOnce, startHoldCluster } from './hold-once.js';
import { SCENARIOS } from './scenarios.js';
import { HOLD_RSS_TARGET_MB, IDLE_RSS_TARGET_MB } from './targets.js';
import { formatTimeline, type UpstreamTimeline } from './upstream-watch.js';

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
  upstream: UpstreamTimeline;
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
  const { cluster, streamSeconds } = await startHoldCluster(options, root, []);
  if (options.profile.length > 0) progress(describePids(cluster));
  try {
    const scenario = SCENARIOS.find((item) => item.name === 'queue-nonstream')!;
    progress(
      `hold test: ${options.holdRequests} concurrent non-stream requests, ${streamSeconds.toFixed(1)} s per ` +
        `upstream stream, ${options.workerProcesses} × ${options.workerConcurrency} worker slots`,
    );
    const held = await holdOnce(
      cluster,
      scenario,
      options.holdRequests,
      options.holdSeconds,
      options.quietWaitSeconds,
    );
    const gatewayPeakRssMb = held.gateway?.peakMb ?? Number.NaN;
    return {
      requests: held.requests,
      answered: held.answered,
      errors: held.errors,
      non2xx: held.non2xx,
      socketErrors: held.socketErrors,
      badBodies: held.badBodies,
      streamSeconds,
      wallSeconds: held.wallSeconds,
      p50Ms: held.p50Ms,
      p99Ms: held.p99Ms,
      maxMs: held.maxMs,
      upstream: held.upstream,
      gatewayIdleRssMb: held.gateway?.idleMb ?? Number.NaN,
      gatewayStartRssMb: held.gateway?.startMb ?? Number.NaN,
      gatewayPeakRssMb,
      workersPeakRssMb: held.workers?.peakMb ?? Number.NaN,
      cpuPercent: held.cpuPercent,
      passed: held.answered === held.requests && held.errors === 0 && gatewayPeakRssMb <= HOLD_RSS_LIMIT_MB,
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
    `latency p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms, max ${result.maxMs.toFixed(0)} ms; ` +
      formatTimeline(result.upstream),
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

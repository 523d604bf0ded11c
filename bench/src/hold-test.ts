import type { BenchOptions } from './cli.js';
import { describePids } from './cluster.js';
import { type HoldMeasure, holdOnce, holdStream, startHoldCluster } from './hold-once.js';
import { SCENARIOS } from './scenarios.js';
import { HOLD_RSS_TARGET_MB, IDLE_RSS_TARGET_MB } from './targets.js';
import { formatTimeline } from './upstream-watch.js';

/** The issue's ceiling for the gateway holding 1,000 waiting requests. */
export const HOLD_RSS_LIMIT_MB = 150;

/** The hold's measure, with the queue gateway's memory spelled out and the verdict. */
export interface HoldResult extends Omit<HoldMeasure, 'scenario' | 'gateway' | 'workers'> {
  streamSeconds: number;
  /** The queue gateway's idle RSS before the held requests, once V8 collected start-up garbage. */
  gatewayIdleRssMb: number;
  /** The same 2 s after start, before V8 collected the garbage of start-up. */
  gatewayStartRssMb: number;
  gatewayPeakRssMb: number;
  workersPeakRssMb: number;
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
  const { streamSeconds } = holdStream(options);
  const cluster = await startHoldCluster(options, root, []);
  if (options.profile.length > 0) progress(describePids(cluster));
  try {
    const scenario = SCENARIOS.find((item) => item.name === 'queue-nonstream')!;
    progress(
      `hold test: ${options.holdRequests} concurrent non-stream requests, ${streamSeconds.toFixed(1)} s per ` +
        `upstream stream, ${options.workerProcesses} × ${options.workerConcurrency} worker slots`,
    );
    const {
      scenario: _scenario,
      gateway,
      workers,
      ...held
    } = await holdOnce(
      cluster,
      scenario,
      options.holdRequests,
      options.holdSeconds,
      options.quietWaitSeconds,
    );
    const gatewayPeakRssMb = gateway?.peakMb ?? Number.NaN;
    return {
      ...held,
      streamSeconds,
      gatewayIdleRssMb: gateway?.idleMb ?? Number.NaN,
      gatewayStartRssMb: gateway?.startMb ?? Number.NaN,
      gatewayPeakRssMb,
      workersPeakRssMb: workers?.peakMb ?? Number.NaN,
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

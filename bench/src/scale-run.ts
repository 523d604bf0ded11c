import { readFileSync } from 'node:fs';
import type { AnchorName } from './anchor-processes.js';
import type { BenchOptions } from './cli.js';
import { type HoldMeasure, holdOnce, holdStream, startHoldCluster } from './hold-once.js';
import { CEILING, SCENARIOS } from './scenarios.js';
import { formatTimeline } from './upstream-watch.js';

/**
 * The hold scenarios, in run order: the direct hold (the floor every p99 is read against), each
 * path of ours after the anchor that does the same with the least code in the same framework.
 */
const SCALE_SCENARIOS = [
  CEILING,
  'anchor-express-relay',
  'gateway-stream',
  'anchor-express-bullmq',
  'queue-nonstream',
];

/** Held requests that need two sockets in the process taking them (client side and upstream side). */
const RELAYS = new Set(['anchor-express-relay', 'gateway-stream']);
/** Descriptors a process needs besides its held sockets (Redis, listeners, files, the event loop). */
const SPARE_DESCRIPTORS = 256;

export const SCALE_TARGETS = { p99OverDirect: 1.1, gatewayKb: 20, workersKb: 40 };

export interface ScaleResult {
  asked: number;
  held: number;
  /** Why fewer than asked were held, if so. */
  limitNote: string | undefined;
  streamSeconds: number;
  rows: HoldMeasure[];
}

/** `ulimit -Hn` of this process: the most open files any process of the bench may raise itself to. */
function openFilesLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+\S+\s+(\S+)/m.exec(limits);
  return match?.[1] === undefined || match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/**
 * Node.js raises its soft open-files limit to the hard one at start, so every process here can hold
 * as many sockets as `ulimit -Hn` allows and no more (raising the hard limit takes root's
 * CAP_SYS_RESOURCE). A relaying gateway holds two sockets a request: the count is cut to fit.
 */
function fitToLimit(asked: number): { held: number; note: string | undefined } {
  const limit = openFilesLimit();
  const fits = Math.floor((limit - SPARE_DESCRIPTORS) / 2);
  if (asked <= fits) return { held: asked, note: undefined };
  return {
    held: fits,
    note:
      `held ${fits} instead of ${asked}: a relaying gateway holds two sockets a request and this host ` +
      `allows ${limit} open files a process (ulimit -Hn); raise it to ${2 * asked + SPARE_DESCRIPTORS} ` +
      'for the full count',
  };
}

/**
 * `npm run bench -- --scale`: each hold scenario on a fresh cluster (clean idle memory), the same
 * number of requests at once, each a `--hold-seconds` upstream stream.
 */
export async function runScale(
  options: BenchOptions,
  root: string,
  progress: (line: string) => void,
): Promise<ScaleResult> {
  const { held, note } = fitToLimit(options.holdRequests);
  if (note !== undefined) progress(note);
  const rows: HoldMeasure[] = [];
  const { streamSeconds } = holdStream(options);
  // `--only` runs some of them (the direct hold always runs: every p99 is read against it).
  const names = SCALE_SCENARIOS.filter(
    (name) => options.only.length === 0 || name === CEILING || options.only.includes(name),
  );
  for (const name of names) {
    const scenario = SCENARIOS.find((item) => item.name === name)!;
    const anchors = [scenario.gateway].filter(
      (gateway): gateway is AnchorName => gateway?.startsWith('anchor-') === true,
    );
    const cluster = await startHoldCluster(options, root, anchors);
    try {
      progress(
        `${name}: ${held} at once, ${streamSeconds.toFixed(1)} s streams (${RELAYS.has(name) ? 'relayed' : 'held'})`,
      );
      const row = await holdOnce(cluster, scenario, held, options.holdSeconds, options.quietWaitSeconds);
      progress(formatScaleRow(row, rows[0]));
      rows.push(row);
    } finally {
      await cluster.stop();
    }
  }
  return { asked: options.holdRequests, held, limitNote: note, streamSeconds, rows };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function formatScaleRow(row: HoldMeasure, direct: HoldMeasure | undefined): string {
  const ratio = direct === undefined ? '' : ` (${(row.p99Ms / direct.p99Ms).toFixed(2)} × direct)`;
  const memory = (label: string, held: HoldMeasure['gateway']) =>
    held === undefined
      ? ''
      : `; ${label} idle ${held.idleMb} MB, held ${held.heldMb} MB (${held.kbPerHeldSteady} KB a request), ` +
        `peak ${held.peakMb} MB (${held.kbPerHeld} KB)`;
  return (
    `  ${row.scenario}: ${row.answered}/${row.requests} answered, ${row.errors} errors ` +
    `(non-2xx ${row.non2xx}, socket ${row.socketErrors}, bad body ${row.badBodies}); ` +
    `p50 ${seconds(row.p50Ms)}, p99 ${seconds(row.p99Ms)}${ratio}, max ${seconds(row.maxMs)}` +
    memory('gateway', row.gateway) +
    memory('workers', row.workers) +
    `\n    ${formatTimeline(row.upstream)}; CPU % of one core: ` +
    Object.entries(row.cpuPercent)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ')
  );
}

const check = (met: boolean) => (met ? 'met' : 'missed');

/** Every row again, then the targets read against the direct hold of the same run. */
export function formatScale(result: ScaleResult): string {
  const direct = result.rows.find((row) => row.scenario === CEILING);
  const lines = [
    `scale: ${result.held} requests held at once, ${result.streamSeconds.toFixed(1)} s upstream streams`,
    ...(result.limitNote === undefined ? [] : [result.limitNote]),
    ...result.rows.map((row) => formatScaleRow(row, direct)),
    'targets:',
  ];
  for (const row of result.rows) {
    if (row.scenario !== 'gateway-stream' && row.scenario !== 'queue-nonstream') continue;
    const all = row.answered === row.requests && row.errors === 0;
    const ratio = direct === undefined ? Number.NaN : row.p99Ms / direct.p99Ms;
    lines.push(
      `  ${row.scenario}: all answered ${check(all)}; p99 ${ratio.toFixed(2)} × direct ` +
        `(≤ ${SCALE_TARGETS.p99OverDirect}: ${check(ratio <= SCALE_TARGETS.p99OverDirect)}); gateway ` +
        `${row.gateway?.kbPerHeldSteady} KB a held request (≤ ${SCALE_TARGETS.gatewayKb}: ` +
        `${check((row.gateway?.kbPerHeldSteady ?? Number.POSITIVE_INFINITY) <= SCALE_TARGETS.gatewayKb)})` +
        (row.workers === undefined
          ? ''
          : `; workers ${row.workers.kbPerHeldSteady} KB a held request (≤ ${SCALE_TARGETS.workersKb}: ` +
            `${check(row.workers.kbPerHeldSteady <= SCALE_TARGETS.workersKb)})`),
    );
  }
  return lines.join('\n');
}

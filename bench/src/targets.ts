import type { IdleRss } from './process-sampler.js';
import { formatTable, type Row } from './report.js';

// The goals the gateway is tuned towards, shown beside the numbers to make them easy to read.
// Nothing fails on them: one run on a shared machine is too noisy to be a verdict.

/** requests/s of a scenario ÷ its anchor's (see scenarios.ts), at every concurrency measured. */
const RATIO_TARGETS = [
  { scenario: 'gateway-stream', atLeast: 0.9 },
  { scenario: 'standalone-nonstream', atLeast: 0.75 },
  { scenario: 'queue-nonstream', atLeast: 0.9 },
];
/**
 * Median latency added over the direct upstream, at concurrency 1 only (one request at a time):
 * at most `atMostMs`, plus, with `overAnchor`, what that anchor adds itself in the same run.
 */
const ADDED_P50_TARGETS: { scenario: string; atMostMs: number; overAnchor?: string }[] = [
  { scenario: 'gateway-stream', atMostMs: 0.4 },
  { scenario: 'queue-nonstream', atMostMs: 0.3, overAnchor: 'anchor-express-bullmq' },
];
export const IDLE_RSS_TARGET_MB = 80;
const IDLE_RSS_PROCESSES = ['queue gateway', 'standalone gateway'];
/** Peak RSS of the gateway while it holds the hold test's requests. */
export const HOLD_RSS_TARGET_MB = 130;

export interface TargetCheck {
  target: string;
  concurrency: number | undefined;
  measured: string;
  /** yes, no, or `errors` when the row or its anchor had errors (its ratio then means nothing). */
  met: 'yes' | 'no' | 'errors';
}

const verdict = (met: boolean, errors: boolean): TargetCheck['met'] => {
  if (errors) return 'errors';
  return met ? 'yes' : 'no';
};

/** One line per target and concurrency that this run measured; targets not measured are left out. */
export function checkTargets(rows: Row[], idleRss: Record<string, IdleRss>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const { scenario, atLeast } of RATIO_TARGETS) {
    for (const row of rows.filter((item) => item.scenario === scenario)) {
      const anchor = rows.find(
        (item) => item.scenario === row.anchor && item.concurrency === row.concurrency,
      );
      if (anchor === undefined || row.ratioToAnchor === undefined) continue;
      checks.push({
        target: `${scenario} ≥ ${atLeast} × ${anchor.scenario}`,
        concurrency: row.concurrency,
        measured: `${row.ratioToAnchor.toFixed(2)} ×`,
        met: verdict(row.ratioToAnchor >= atLeast, row.errors > 0 || anchor.errors > 0),
      });
    }
  }
  for (const { scenario, atMostMs, overAnchor } of ADDED_P50_TARGETS) {
    const row = rows.find((item) => item.scenario === scenario && item.concurrency === 1);
    const anchor = rows.find((item) => item.scenario === overAnchor && item.concurrency === 1);
    if (row === undefined || (overAnchor !== undefined && anchor === undefined)) continue;
    const limitMs = atMostMs + (anchor?.addedP50Ms ?? 0);
    checks.push({
      target:
        anchor === undefined
          ? `${scenario} +p50 over direct ≤ ${atMostMs} ms`
          : `${scenario} +p50 ≤ ${anchor.scenario}'s (${anchor.addedP50Ms.toFixed(2)} ms) + ${atMostMs} ms`,
      concurrency: 1,
      measured: `${row.addedP50Ms.toFixed(2)} ms`,
      met: verdict(row.addedP50Ms <= limitMs, row.errors > 0 || (anchor?.errors ?? 0) > 0),
    });
  }
  for (const name of IDLE_RSS_PROCESSES) {
    const rss = idleRss[name]?.settledMb;
    if (rss === undefined) continue;
    checks.push({
      target: `${name} idle RSS (settled) ≤ ${IDLE_RSS_TARGET_MB} MB`,
      concurrency: undefined,
      measured: `${rss} MB`,
      met: verdict(rss <= IDLE_RSS_TARGET_MB, false),
    });
  }
  return checks;
}

export function formatTargets(checks: TargetCheck[]): string {
  if (checks.length === 0) return 'targets: none of the targeted scenarios was measured';
  return formatTable(
    ['target (a goal, not a pass/fail check)', 'conc', 'measured', 'met'],
    checks.map((check) => [check.target, String(check.concurrency ?? '–'), check.measured, check.met]),
  );
}

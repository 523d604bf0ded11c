import type { RequestResult } from './load.js';
import type { OutcomeKind } from './outcome.js';

/** The counts a chaos scenario reports; `accepted` is every request the door let in. */
export interface Tally {
  sent: number;
  accepted: number;
  answered: number;
  refused: number;
  upstreamErrors: number;
  cut: number;
  left: number;
  lost: number;
  /** `kind: detail` → count, e.g. `refused: queue_unavailable` or `lost: 504 deadline_exceeded`. */
  details: Record<string, number>;
}

const FIELD: Record<OutcomeKind, keyof Omit<Tally, 'sent' | 'accepted' | 'details'>> = {
  answered: 'answered',
  refused: 'refused',
  upstream_error: 'upstreamErrors',
  cut: 'cut',
  left: 'left',
  lost: 'lost',
};

function detailOf(result: RequestResult): string | undefined {
  const { outcome } = result;
  switch (outcome.kind) {
    case 'refused':
      return outcome.code;
    case 'upstream_error':
      return `${outcome.status} ${outcome.code}`;
    case 'cut':
    case 'lost':
      return outcome.reason;
    default:
      return undefined;
  }
}

export function tally(results: readonly RequestResult[]): Tally {
  const counts: Tally = {
    sent: results.length,
    accepted: 0,
    answered: 0,
    refused: 0,
    upstreamErrors: 0,
    cut: 0,
    left: 0,
    lost: 0,
    details: {},
  };
  for (const result of results) {
    counts[FIELD[result.outcome.kind]] += 1;
    const detail = detailOf(result);
    if (detail !== undefined) {
      const key = `${result.outcome.kind}: ${detail}`;
      counts.details[key] = (counts.details[key] ?? 0) + 1;
    }
  }
  counts.accepted = counts.sent - counts.refused;
  return counts;
}

/** One line a reader of the test output can scan: the counts, then what stands behind the non-answers. */
export function printTally(
  scenario: string,
  counts: Tally,
  notes: Record<string, number | string> = {},
): void {
  const cells = [
    `sent ${counts.sent}`,
    `accepted ${counts.accepted}`,
    `answered ${counts.answered}`,
    `refused ${counts.refused}`,
    `upstream errors ${counts.upstreamErrors}`,
    `cut ${counts.cut}`,
    `left ${counts.left}`,
    `lost ${counts.lost}`,
    ...Object.entries(notes).map(([name, value]) => `${name} ${value}`),
  ];
  const details = Object.entries(counts.details)
    .map(([key, count]) => `${key} ×${count}`)
    .join('; ');
  console.log(`[chaos] ${scenario} | ${cells.join(' | ')}${details === '' ? '' : ` | ${details}`}`);
}

/** The assertion message when something was lost: what, and what the processes logged about it. */
export function lossReport(details: Tally['details'], problems: readonly string[]): string {
  const lost = Object.entries(details).filter(([key]) => key.startsWith('lost: '));
  return `${JSON.stringify(Object.fromEntries(lost))}\n${problems.slice(0, 20).join('\n')}`;
}

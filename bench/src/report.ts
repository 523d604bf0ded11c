import type { GroupUsage } from './process-sampler.js';

/** One measured scenario at one concurrency. */
export interface Row {
  scenario: string;
  concurrency: number;
  ok: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** non-2xx + connection errors and timeouts + 2xx with a wrong body. */
  errors: number;
  /** requests/s ÷ the direct-upstream requests/s at the same concurrency, same run. */
  ratioToCeiling: number;
  /** p50 − the direct-upstream p50 at the same concurrency. */
  addedP50Ms: number;
  /** The anchor this scenario is compared with (see scenarios.ts). */
  anchor: string | undefined;
  /** requests/s ÷ the anchor's requests/s at the same concurrency, same run. */
  ratioToAnchor: number | undefined;
  /** Whether requests went through Redis and workers (so their CPU per request belongs to the row). */
  viaWorkers: boolean;
  gatewayPeakRssMb: number | undefined;
  workersPeakRssMb: number | undefined;
  /** CPU used by each process group during the measurement, % of one core. */
  cpuPercent: Record<string, number>;
  /** The same CPU divided by the requests answered: what one request costs each process, in µs. */
  cpuMicrosPerRequest: Record<string, number>;
}

export const CPU_GROUPS = ['load', 'upstream', 'gateway', 'workers', 'redis', 'other'] as const;

export function cpuOf(usage: Record<string, GroupUsage>): Record<string, number> {
  const cpu: Record<string, number> = {};
  for (const [name, value] of Object.entries(usage)) cpu[name] = value.cpuPercent;
  return cpu;
}

export function perRequest(cpuPercent: Record<string, number>, requestsPerSecond: number) {
  const micros: Record<string, number> = {};
  for (const [name, percent] of Object.entries(cpuPercent)) {
    if (name !== 'other') micros[name] = Math.round((percent / 100 / Math.max(requestsPerSecond, 1)) * 1e6);
  }
  return micros;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);
}

/** A plain-text table with right-aligned numbers, also valid Markdown for the README. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column === 0 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export function formatRows(rows: Row[]): string {
  const headers = [
    'scenario',
    'conc',
    'req/s',
    'p50 ms',
    'p99 ms',
    'errors',
    '× ceiling',
    '× anchor',
    '+p50 ms',
    'gateway RSS MB',
    'workers RSS MB',
    'CPU µs/req gateway/workers/redis',
    `CPU % ${CPU_GROUPS.join('/')}`,
  ];
  const micros = (row: Row, group: string, applies: boolean) =>
    applies ? String(row.cpuMicrosPerRequest[group] ?? '–') : '–';
  const cells = rows.map((row) => [
    row.scenario,
    String(row.concurrency),
    fixed(row.requestsPerSecond, 0),
    fixed(row.p50Ms, 2),
    fixed(row.p99Ms, 2),
    String(row.errors),
    fixed(row.ratioToCeiling, 2),
    fixed(row.ratioToAnchor, 2),
    fixed(row.addedP50Ms, 2),
    fixed(row.gatewayPeakRssMb, 0),
    fixed(row.workersPeakRssMb, 0),
    ['gateway', 'workers', 'redis']
      .map((group) => micros(row, group, group === 'gateway' || row.viaWorkers))
      .join('/'),
    CPU_GROUPS.map((group) => String(row.cpuPercent[group] ?? 0)).join('/'),
  ]);
  return formatTable(headers, cells);
}

/** What `× anchor` divides by, and how the CPU per request was counted, under the table. */
export function formatLegend(rows: Row[]): string {
  const anchors = new Map<string, Set<string>>();
  for (const row of rows) {
    if (row.anchor !== undefined)
      anchors.set(row.anchor, (anchors.get(row.anchor) ?? new Set()).add(row.scenario));
  }
  const divisions = [...anchors].map(([anchor, scenarios]) => `${[...scenarios].join(', ')} ÷ ${anchor}`);
  return [
    `× anchor: ${divisions.length > 0 ? divisions.join('; ') : 'no scenario with an anchor was run'} ` +
      "(an anchor row's own × ceiling is its ratio to direct).",
    'CPU µs/req: CPU time of the group during the measurement ÷ requests answered; ' +
      "an anchor's processes are its row's gateway and workers; – where the group is not on the row's path.",
  ].join('\n');
}

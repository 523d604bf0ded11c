import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import parsePrometheusTextFormat, {
  type PrometheusFamily,
  type PrometheusSample,
} from 'parse-prometheus-text-format';

/** One `/metrics` answer, parsed by a real Prometheus text-format parser. */
export interface Scrape {
  readonly text: string;
  readonly families: readonly PrometheusFamily[];
  /** Every family named by a `# TYPE` line, with its declared type (`counter`, `histogram`, …). */
  readonly declared: ReadonlyMap<string, string>;
  family(name: string): PrometheusFamily | undefined;
  /** A counter's or gauge's value for exactly these labels; undefined when there is no such series. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Sum of a counter or gauge over every series whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
  /** A histogram's observation count for exactly these labels (0 when no such series). */
  histogramCount(name: string, labels?: Record<string, string>): number;
  /** Every label value of every series, with where it was found. */
  labelValues(): { family: string; label: string; value: string }[];
}

const sameLabels = (sample: PrometheusSample, labels: Record<string, string>) => {
  const actual = sample.labels ?? {};
  const keys = Object.keys(labels);
  return Object.keys(actual).length === keys.length && keys.every((key) => actual[key] === labels[key]);
};
const includesLabels = (sample: PrometheusSample, labels: Record<string, string>) =>
  Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value);

const TYPE_LINE = /^# TYPE (\S+) (\S+)$/gm;

/**
 * Parses with `parse-prometheus-text-format`, which checks every line's syntax but folds all
 * series of a labelled histogram into one (it keeps neither their labels nor their counts).
 * Histogram TYPE lines are therefore read as untyped, so each `_bucket`, `_sum` and `_count`
 * series keeps its labels; the declared types are kept apart in `declared`.
 */
export function parseScrape(text: string): Scrape {
  const declared = new Map([...text.matchAll(TYPE_LINE)].map((match) => [match[1] ?? '', match[2] ?? '']));
  const parsed = parsePrometheusTextFormat(
    text.replace(TYPE_LINE, (line, name: string, type: string) =>
      type === 'histogram' ? `# TYPE ${name} untyped` : line,
    ),
  );
  // prom-client writes `_bucket`, `_sum`, `_count` per label set, so each name comes back in
  // several runs: join them.
  const byName = new Map<string, PrometheusFamily>();
  for (const entry of parsed) {
    const seen = byName.get(entry.name);
    if (seen) seen.metrics.push(...entry.metrics);
    else byName.set(entry.name, { ...entry, metrics: [...entry.metrics] });
  }
  const families = [...byName.values()];
  const family = (name: string) => families.find((candidate) => candidate.name === name);
  const samples = (name: string) => family(name)?.metrics ?? [];
  const value = (name: string, labels: Record<string, string> = {}) => {
    const sample = samples(name).find((candidate) => sameLabels(candidate, labels));
    return sample?.value === undefined ? undefined : Number(sample.value);
  };
  return {
    text,
    families,
    declared,
    family,
    value,
    sum(name, labels = {}) {
      return samples(name)
        .filter((sample) => includesLabels(sample, labels))
        .reduce((total, sample) => total + Number(sample.value), 0);
    },
    histogramCount(name, labels = {}) {
      if (declared.get(name) !== 'histogram') throw new Error(`${name} is not a histogram in this scrape`);
      return value(`${name}_count`, labels) ?? 0;
    },
    labelValues() {
      return families.flatMap((entry) =>
        entry.metrics.flatMap((sample) =>
          Object.entries(sample.labels ?? {}).map(([label, value]) => ({ family: entry.name, label, value })),
        ),
      );
    },
  };
}

export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return parseScrape(await response.text());
}

/** Whether Prometheus's own `promtool` is installed (Debian: `apt-get install prometheus`). */
export async function hasPromtool(): Promise<boolean> {
  try {
    await promisify(execFile)('promtool', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** `promtool check metrics` on a scrape: its exit code and what it printed (lint findings). */
export function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      output += data.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

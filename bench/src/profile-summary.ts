import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable } from './report.js';

// `npm run profile-summary --workspace=@openai-proxy/bench -- [label=]<file.cpuprofile> … [--top n]`:
// where a process spent its CPU, from `--cpu-prof` profiles. Self time by package, one column
// per profile (e.g. before=… after=… for a note), as a Markdown table; with one profile also the
// top functions by self time and by total time (self + callees, each sample once per function).

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Summary {
  label: string;
  totalMicros: number;
  idleMicros: number;
  byPackage: Map<string, number>;
  byFunction: Map<string, number>;
  inclusive: Map<string, number>;
}

/** Our workspaces by their folder (apps/gateway → gateway); the last match, should the checkout sit in one. */
const WORKSPACE = /.*\/(?:apps|libs|tools)\/([^/]+)\/|.*\/(bench)\//;
const OUR_SCOPE = '@openai-proxy/';

/**
 * Where a frame's self time goes: V8's own entries (GC, idle, program), `node internals`,
 * each node_modules package on its own (`express`, `@types/x`), each of our workspaces, or
 * `V8 builtins/native` for frames without a file (JSON.parse, C++ bindings).
 */
function packageOf(frame: ProfileNode['callFrame']): string {
  if (frame.functionName === '(garbage collector)') return 'GC';
  if (frame.functionName.startsWith('(')) return frame.functionName;
  const url = frame.url;
  if (url === '') return 'V8 builtins/native';
  // The only WebAssembly in this tree is llhttp, undici's HTTP parser.
  if (url.startsWith('wasm://')) return 'wasm (undici llhttp)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    const name = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
    return name.startsWith(OUR_SCOPE) ? name.slice(OUR_SCOPE.length) : name;
  }
  const workspace = WORKSPACE.exec(url);
  return workspace?.[1] ?? workspace?.[2] ?? url;
}

function shortFile(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  const app = /\/((?:apps|libs|tools|bench)\/.+)$/.exec(url);
  return app?.[1] ?? url.replace(/^file:\/\//, '');
}

const add = (map: Map<string, number>, key: string, micros: number) =>
  map.set(key, (map.get(key) ?? 0) + micros);

function summarize(label: string, profile: CpuProfile): Summary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  let totalMicros = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
    totalMicros += delta;
  });
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const keyOf = (frame: ProfileNode['callFrame']) =>
    `${frame.functionName || '(anonymous)'}  ${shortFile(frame.url)}:${frame.lineNumber + 1}`;

  const summary: Summary = {
    label,
    totalMicros,
    idleMicros: 0,
    byPackage: new Map(),
    byFunction: new Map(),
    inclusive: new Map(),
  };
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    if (frame.functionName === '(idle)') {
      summary.idleMicros += micros;
      continue;
    }
    add(summary.byFunction, keyOf(frame), micros);
    add(summary.byPackage, packageOf(frame), micros);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const caller = byId.get(at)?.callFrame;
      if (caller !== undefined && !caller.functionName.startsWith('(')) seen.add(keyOf(caller));
    }
    for (const key of seen) add(summary.inclusive, key, micros);
  }
  return summary;
}

const busyOf = (summary: Summary) => summary.totalMicros - summary.idleMicros;
const ms = (micros: number) => (micros / 1000).toFixed(0);
const share = (micros: number, summary: Summary) => `${((100 * micros) / busyOf(summary)).toFixed(1)}%`;

/** Packages below this share of busy time in every profile are summed into one row. */
const SMALL_SHARE = 0.005;

/** Self time by package, one `ms | %` pair per profile; packages sorted by their largest share. */
function packageTable(summaries: Summary[]): string {
  const packages = [...new Set(summaries.flatMap((summary) => [...summary.byPackage.keys()]))];
  const largestShare = (name: string) =>
    Math.max(...summaries.map((summary) => (summary.byPackage.get(name) ?? 0) / busyOf(summary)));
  packages.sort((a, b) => largestShare(b) - largestShare(a));
  const shown = packages.filter((name) => largestShare(name) >= SMALL_SHARE);
  const small = packages.filter((name) => largestShare(name) < SMALL_SHARE);
  const cells = (summary: Summary, names: string[]) => {
    const found = names.filter((name) => summary.byPackage.has(name));
    const micros = found.reduce((sum, name) => sum + (summary.byPackage.get(name) ?? 0), 0);
    return found.length === 0 ? ['–', '–'] : [ms(micros), share(micros, summary)];
  };
  const headers = ['self time by package', ...summaries.flatMap((s) => [`${s.label} ms`, `${s.label} %`])];
  const rows = shown.map((name) => [name, ...summaries.flatMap((summary) => cells(summary, [name]))]);
  if (small.length > 0) {
    const title = `${small.length} more, each < ${100 * SMALL_SHARE}%`;
    rows.push([title, ...summaries.flatMap((summary) => cells(summary, small))]);
  }
  rows.push(['busy (100%)', ...summaries.flatMap((summary) => [ms(busyOf(summary)), ''])]);
  rows.push(['idle (not in %)', ...summaries.flatMap((summary) => [ms(summary.idleMicros), ''])]);
  return formatTable(headers, rows);
}

function topFunctions(title: string, summary: Summary, entries: Map<string, number>, count: number) {
  const lines = [...entries]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, micros]) => `${share(micros, summary).padStart(6)}  ${ms(micros).padStart(7)} ms  ${key}`);
  return [`\n${title}`, ...lines].join('\n');
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' } },
});
if (positionals.length === 0) {
  process.stderr.write('usage: profile-summary.ts [label=]<file.cpuprofile> … [--top n]\n');
  process.exit(2);
}
const summaries: Summary[] = [];
for (const argument of positionals) {
  const labelled = /^([^=/]+)=(.+)$/.exec(argument);
  const file = labelled?.[2] ?? argument;
  const label = labelled?.[1] ?? basename(file, '.cpuprofile');
  summaries.push(summarize(label, JSON.parse(await readFile(file, 'utf8')) as CpuProfile));
  process.stdout.write(
    `${label}: ${file}, ${(summaries.at(-1)!.totalMicros / 1e6).toFixed(1)} s profiled ` +
      `(percentages are of busy time)\n`,
  );
}
process.stdout.write(`\n${packageTable(summaries)}\n`);
const [only] = summaries;
if (summaries.length === 1 && only !== undefined) {
  const top = Number(values.top);
  process.stdout.write(topFunctions(`top ${top} functions by self time`, only, only.byFunction, top));
  process.stdout.write(`${topFunctions(`top ${top} functions by total time`, only, only.inclusive, top)}\n`);
}

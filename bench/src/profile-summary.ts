import { readFile } from 'node:fs/promises';

// `node --import tsx bench/src/profile-summary.ts <file.cpuprofile> [top]`: where a process spent
// its CPU, from a `--cpu-prof` profile: self time per package, the top functions by self time, and
// the top functions by total time (self + callees, each sample counted once per function).

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

/** `express`, `undici`, `@openai-proxy/shared`, `node:internal/...` or `(native)` for a frame's file. */
function packageOf(url: string): string {
  if (url === '') return '(native/V8)';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  const app = /\/(apps|libs|tools)\/([^/]+)\//.exec(url);
  return app ? `${app[1]}/${app[2]}` : url;
}

function shortFile(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  const app = /\/((?:apps|libs|tools)\/.+)$/.exec(url);
  return app?.[1] ?? url.replace(/^file:\/\//, '');
}

const file = process.argv[2];
const top = Number(process.argv[3] ?? 30);
if (file === undefined) {
  process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
  total += delta;
});

const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const keyOf = (frame: ProfileNode['callFrame']) =>
  `${frame.functionName || '(anonymous)'}  ${shortFile(frame.url)}:${frame.lineNumber + 1}`;

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
let idle = 0;
for (const [id, micros] of selfMicros) {
  const frame = byId.get(id)?.callFrame;
  if (frame === undefined) continue;
  if (frame.functionName === '(idle)') idle += micros;
  const key = keyOf(frame);
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  const pkg = frame.functionName.startsWith('(') ? frame.functionName : packageOf(frame.url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros);
}

const inclusive = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const frame = byId.get(at)?.callFrame;
    if (frame === undefined || frame.functionName.startsWith('(')) continue;
    seen.add(keyOf(frame));
  }
  for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
}

const busy = total - idle;
const percent = (micros: number) => `${((100 * micros) / busy).toFixed(1).padStart(5)}%`;
const print = (title: string, entries: Map<string, number>, count: number) => {
  process.stdout.write(`\n${title}\n`);
  for (const [key, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    if (key.startsWith('(idle)')) continue;
    process.stdout.write(`${percent(micros)}  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}\n`);
  }
};
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (percentages are of busy time)\n`,
);
print('self time by package', byPackage, 25);
print(`top ${top} functions by self time`, byFunction, top);
print(`top ${top} functions by total time`, inclusive, top);

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatTable } from './report.js';

// `npm run heap-summary --workspace=@openai-proxy/bench -- <idle.heapsnapshot> <held.heapsnapshot>
// --held <n> [--top n]`: what a process holds per held request, from two heap snapshots (node's
// `--heapsnapshot-signal`), one taken idle and one while it holds n requests. Self sizes are summed
// by what V8 calls each object (its constructor for objects, its kind for strings, closures, code,
// arrays), and the difference is divided by n.

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Totals {
  bytes: Map<string, number>;
  counts: Map<string, number>;
  all: number;
}

/** Kinds whose `name` says what the object is; the rest are summed under their kind. */
const NAMED_KINDS = new Set(['object', 'closure', 'native']);

async function totals(file: string): Promise<Totals> {
  const snapshot = JSON.parse(await readFile(file, 'utf8')) as HeapSnapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const kinds = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const result: Totals = { bytes: new Map(), counts: new Map(), all: 0 };
  for (let index = 0; index < snapshot.nodes.length; index += width) {
    const kind = kinds[snapshot.nodes[index + typeAt]!] ?? 'unknown';
    const name = snapshot.strings[snapshot.nodes[index + nameAt]!] ?? '';
    const key = NAMED_KINDS.has(kind) ? `${name} (${kind})` : `(${kind})`;
    const size = snapshot.nodes[index + sizeAt]!;
    result.bytes.set(key, (result.bytes.get(key) ?? 0) + size);
    result.counts.set(key, (result.counts.get(key) ?? 0) + 1);
    result.all += size;
  }
  return result;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { held: { type: 'string' }, top: { type: 'string', default: '25' } },
});
const [idleFile, heldFile] = positionals;
const held = Number(values.held);
if (idleFile === undefined || heldFile === undefined || !(held > 0)) {
  process.stderr.write(
    'usage: heap-summary <idle.heapsnapshot> <held.heapsnapshot> --held <requests held>\n',
  );
  process.exit(2);
}
const idle = await totals(idleFile);
const busy = await totals(heldFile);
const growth = [...busy.bytes.keys()]
  .map((key) => ({
    key,
    bytes: (busy.bytes.get(key) ?? 0) - (idle.bytes.get(key) ?? 0),
    count: (busy.counts.get(key) ?? 0) - (idle.counts.get(key) ?? 0),
  }))
  .sort((a, b) => b.bytes - a.bytes)
  .slice(0, Number(values.top));
process.stdout.write(
  `heap: idle ${(idle.all / 1048576).toFixed(1)} MB, holding ${held}: ${(busy.all / 1048576).toFixed(1)} MB, ` +
    `${((busy.all - idle.all) / held / 1024).toFixed(2)} KB a held request\n\n`,
);
process.stdout.write(
  `${formatTable(
    ['what', 'bytes a request', 'objects a request', 'MB in all'],
    growth.map((row) => [
      row.key,
      (row.bytes / held).toFixed(0),
      (row.count / held).toFixed(2),
      (row.bytes / 1048576).toFixed(2),
    ]),
  )}\n`,
);

import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseOptions } from './cli.js';
import { formatHold, runHoldTest } from './hold-test.js';
import { describeMachine, formatMachine } from './machine.js';
import { IDLE_START_SECONDS, IDLE_WINDOW_SECONDS } from './process-sampler.js';
import { formatLegend, formatRows } from './report.js';
import { formatScale, runScale } from './scale-run.js';
import { runTable } from './table-run.js';
import { checkTargets, formatTargets } from './targets.js';

// `npm run bench`: builds are done by the root script; this starts Redis, the mock upstream, the
// gateways and the worker farm as separate processes and drives them with autocannon.
const root = fileURLToPath(new URL('../../', import.meta.url));
const resultsDir = fileURLToPath(new URL('../results', import.meta.url));
const options = parseOptions(process.argv.slice(2), resultsDir);
// With --json, stdout carries only the JSON; progress and the table go to stderr.
const say = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
const machine = describeMachine();
say(`machine: ${formatMachine(machine)}`);
say(
  `GATEWAY_PROCESSES=${options.gatewayProcesses} WORKER_PROCESSES=${options.workerProcesses} ` +
    `WORKER_CONCURRENCY=${options.workerConcurrency}` +
    (options.hold || options.scale
      ? ''
      : `; mock answer: ${options.words} words, ${options.durationSeconds} s per scenario`),
);

await mkdir(resultsDir, { recursive: true });
if (options.profile.length > 0) await mkdir(`${resultsDir}/profiles`, { recursive: true });

const settings = {
  durationSeconds: options.durationSeconds,
  warmupSeconds: options.warmupSeconds,
  words: options.words,
  gatewayProcesses: options.gatewayProcesses,
  workerProcesses: options.workerProcesses,
  workerConcurrency: options.workerConcurrency,
  gatewayNodeOptions: options.gatewayNodeOptions,
  ...(options.hold || options.scale
    ? { holdRequests: options.holdRequests, holdChunkDelayMs: options.holdChunkDelayMs }
    : {}),
};
let report: Record<string, unknown>;
let failed = false;
if (options.scale) {
  const scale = await runScale(options, root, say);
  say('');
  say(formatScale(scale));
  failed = scale.rows.some((row) => row.answered !== row.requests || row.errors > 0);
  report = {
    kind: 'scale',
    date: new Date().toISOString(),
    machine,
    settings,
    appEnv: options.appEnv,
    scale,
  };
} else if (options.hold) {
  const hold = await runHoldTest(options, root, say);
  say(formatHold(hold));
  failed = !hold.passed;
  report = { kind: 'hold', date: new Date().toISOString(), machine, settings, hold };
} else {
  const { rows, idleRss } = await runTable(options, root, say);
  const targets = checkTargets(rows, idleRss);
  say('');
  say(formatRows(rows));
  say(formatLegend(rows));
  say(
    `idle RSS before any load, ${IDLE_START_SECONDS} s after start / settled (lowest in ${IDLE_WINDOW_SECONDS} s): ` +
      Object.entries(idleRss)
        .map(([name, rss]) => `${name} ${rss.atStartMb} / ${rss.settledMb} MB`)
        .join(', '),
  );
  if (options.gatewayProcesses > 1 || options.workerProcesses > 1 || options.gatewayNodeOptions !== '') {
    say('note: each anchor runs as one plain process, without --gateway-node-options.');
  }
  say('');
  say(formatTargets(targets));
  failed = rows.some((row) => row.errors > 0 || row.ok === 0);
  report = { kind: 'table', date: new Date().toISOString(), machine, settings, idleRss, rows, targets };
}

const json = JSON.stringify(report, null, 2);
const file = `${resultsDir}/${report.kind}-${String(report.date).replaceAll(':', '-')}.json`;
await writeFile(file, `${json}\n`);
say(`results: ${file}`);
if (options.json) process.stdout.write(`${json}\n`);
process.exitCode = failed ? 1 : 0;

import { parseArgs } from 'node:util';

/** Everything `npm run bench -- <flags>` can change, with the defaults the README documents. */
export interface BenchOptions {
  /** Seconds of measured load per scenario and concurrency. */
  durationSeconds: number;
  /** Seconds of unmeasured load before each measurement (JIT, connection pools, Redis scripts). */
  warmupSeconds: number;
  concurrencies: number[];
  /** Scenario or anchor names to run (all when empty); the ceiling and each scenario's anchor always run. */
  only: string[];
  /** Words in each mock answer: one SSE chunk per word, plus role, stop and usage chunks. */
  words: number;
  /** GATEWAY_PROCESSES of both gateways (node:cluster children sharing the port). */
  gatewayProcesses: number;
  workerProcesses: number;
  workerConcurrency: number;
  /** Run the hold test instead of the table. */
  hold: boolean;
  /** Run every hold scenario, streams and folded, beside the direct hold and the anchors' holds. */
  scale: boolean;
  holdRequests: number;
  /** Milliseconds between two chunks of the slow upstream in the hold test. */
  holdChunkDelayMs: number;
  /** Seconds one upstream stream of the hold test lasts. */
  holdSeconds: number;
  /** More variables for every gateway and worker (e.g. MAX_INFLIGHT, UPSTREAM_CONNECTIONS). */
  appEnv: Record<string, string>;
  json: boolean;
  /** Where the JSON copy goes (always written; `--json` also prints it on stdout). */
  resultsDir: string;
  /** Longest wait, before each measurement, for other work on the machine to calm down (0: none). */
  quietWaitSeconds: number;
  /** Extra Node.js flags for the gateway processes (e.g. `--max-semi-space-size=4`), to try V8 settings. */
  gatewayNodeOptions: string;
  /** Processes to run under `node --cpu-prof` (`gateway`, `worker`, `upstream`, `anchor`). */
  profile: string[];
}

const HELP = `npm run bench -- [flags]
  --duration <s>            measured seconds per scenario (default 10)
  --warmup <s>              unmeasured warm-up seconds before each measurement (default 2)
  --quick                   smoke run: --duration 3 --warmup 1
  --concurrency <list>      e.g. 1,100 (default)
  --only <list>             scenarios: gateway-stream,standalone-nonstream,queue-nonstream,
                            queue-nonstream-scheduled, or anchors:
                            anchor-node-relay,anchor-express-relay,anchor-bullmq,anchor-express-bullmq
                            (a scenario brings its anchor)
  --words <n>               words per mock answer (default 32)
  --gateway-processes <n>   GATEWAY_PROCESSES of the gateways (default 1)
  --worker-processes <n>    WORKER_PROCESSES of the farm (default 1)
  --worker-concurrency <n>  WORKER_CONCURRENCY per process (default 1000)
  --hold                    the hold test: --hold-requests concurrent non-stream requests on a slow upstream
  --scale                   every hold at once-scale: direct, anchor-express-relay, gateway-stream,
                            anchor-express-bullmq, queue-nonstream, each on a fresh cluster; its defaults:
                            --hold-requests 10000 --hold-seconds 30 --hold-chunk-delay 1500
                            --worker-processes 2 --worker-concurrency 5000 --app-env MAX_INFLIGHT=30000;
                            --only picks some of them (the direct hold always runs)
  --hold-requests <n>       (default 1000)
  --hold-chunk-delay <ms>   delay between chunks of the slow upstream (default 100)
  --hold-seconds <s>        how long each upstream stream of the hold test lasts (default 5)
  --app-env <list>          more variables for the gateways and workers, e.g.
                            MAX_INFLIGHT=30000,UPSTREAM_CONNECTIONS=2048
  --quiet-wait <s>          before each scenario, wait up to this long for the machine to be idle (default 120)
  --json                    print the results as JSON on stdout (a copy always goes to bench/results/)
  --gateway-node-options=<flags>  extra node flags for the gateways, e.g. =--max-semi-space-size=4
  --profile <list>          run gateway,worker,upstream,anchor under --cpu-prof (profiles in bench/results/profiles;
                            npm run profile-summary --workspace=@openai-proxy/bench -- <files> sums them up)
`;

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer, got ${raw}`);
  return value;
}

function nonNegativeInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be 0 or more, got ${raw}`);
  return value;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** `A=1,B=2` as variables. */
function variables(raw: string | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of list(raw)) {
    const equals = item.indexOf('=');
    if (equals < 1) throw new Error(`--app-env takes NAME=value pairs, got ${item}`);
    result[item.slice(0, equals)] = item.slice(equals + 1);
  }
  return result;
}

export function parseOptions(argv: string[], resultsDir: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '1,100' },
      only: { type: 'string' },
      words: { type: 'string', default: '32' },
      'gateway-processes': { type: 'string', default: '1' },
      'worker-processes': { type: 'string' },
      'worker-concurrency': { type: 'string' },
      hold: { type: 'boolean', default: false },
      scale: { type: 'boolean', default: false },
      'hold-requests': { type: 'string' },
      'hold-chunk-delay': { type: 'string' },
      'hold-seconds': { type: 'string' },
      'app-env': { type: 'string' },
      json: { type: 'boolean', default: false },
      'quiet-wait': { type: 'string', default: '120' },
      profile: { type: 'string' },
      'gateway-node-options': { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick === true;
  const scale = values.scale === true;
  // --scale is the 10,000 × 30 s hold of ten thousand generations at once; the rest, a quick one.
  const byMode = (scaleDefault: string, otherwise: string) => (scale ? scaleDefault : otherwise);
  return {
    durationSeconds: positiveInt('duration', values.duration ?? (quick ? '3' : '10')),
    warmupSeconds: positiveInt('warmup', values.warmup ?? (quick ? '1' : '2')),
    concurrencies: list(values.concurrency).map((item) => positiveInt('concurrency', item)),
    only: list(values.only),
    words: positiveInt('words', values.words),
    gatewayProcesses: positiveInt('gateway-processes', values['gateway-processes']),
    workerProcesses: positiveInt('worker-processes', values['worker-processes'] ?? byMode('2', '1')),
    workerConcurrency: positiveInt(
      'worker-concurrency',
      values['worker-concurrency'] ?? byMode('5000', '1000'),
    ),
    hold: values.hold === true,
    scale,
    holdRequests: positiveInt('hold-requests', values['hold-requests'] ?? byMode('10000', '1000')),
    holdChunkDelayMs: positiveInt('hold-chunk-delay', values['hold-chunk-delay'] ?? byMode('1500', '100')),
    holdSeconds: positiveInt('hold-seconds', values['hold-seconds'] ?? byMode('30', '5')),
    appEnv: variables(values['app-env'] ?? byMode('MAX_INFLIGHT=30000', '')),
    json: values.json === true,
    resultsDir,
    quietWaitSeconds: nonNegativeInt('quiet-wait', values['quiet-wait']),
    gatewayNodeOptions: values['gateway-node-options'],
    profile: list(values.profile),
  };
}

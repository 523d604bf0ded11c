import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  answers200,
  type SpawnedProcess as BenchProcess,
  freePort,
  spawnProcess,
  startRedis,
  waitUntil,
} from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import { type AnchorName, type RunningAnchor, startAnchor } from './anchor-processes.js';

/** What the benchmarked system looks like: every part is its own process, as in production. */
export interface ClusterOptions {
  root: string;
  words: number;
  /** Delay between two chunks of the mock upstream (0: the whole answer at once). */
  chunkDelayMs: number;
  gatewayProcesses: number;
  workerProcesses: number;
  workerConcurrency: number;
  /** Also start a gateway without REDIS_URL (standalone mode). */
  withStandalone: boolean;
  /**
   * Also start a queue-mode gateway and worker farm whose upstream has limits it never reaches
   * (capacity scheduling on: every call reserved and released in Redis), on a queue of their own.
   */
  withScheduled: boolean;
  /** The anchors to start beside the real system. */
  anchors: readonly AnchorName[];
  /** Which of gateway, worker, upstream, anchor run under `--cpu-prof`. */
  profile: string[];
  profileDir: string;
  /** Extra Node.js flags for the gateway processes (not the anchors: they stay the reference). */
  gatewayNodeOptions: string;
  /** More variables for every gateway and worker of the system measured. */
  appEnv?: Record<string, string>;
  /** Jobs a BullMQ anchor's one worker process holds at once (default: `workerConcurrency`). */
  anchorWorkerConcurrency?: number;
}

export interface BenchCluster {
  upstreamChatUrl: string;
  queueGatewayUrl: string;
  standaloneGatewayUrl: string | undefined;
  redis: BenchProcess;
  upstream: BenchProcess;
  queueGateway: BenchProcess;
  standaloneGateway: BenchProcess | undefined;
  /** The worker farm's cluster primary; its children are found through /proc. */
  workers: BenchProcess;
  /** With `withScheduled`: the same pair with capacity scheduling on. */
  scheduled: { gatewayUrl: string; gateway: BenchProcess; workers: BenchProcess } | undefined;
  anchors: Partial<Record<AnchorName, RunningAnchor>>;
  /** Every process, for liveness checks and CPU accounting. */
  all(): BenchProcess[];
  stop(): Promise<void>;
}

const QUEUE_PREFIX = '{bench}';
const SCHEDULED_PREFIX = '{bench-scheduled}';
/** The gateway's queue: one per prefix (see libs/shared queue/names.ts). */
const QUEUE_NAME = 'completions';

export async function startCluster(options: ClusterOptions): Promise<BenchCluster> {
  const started: BenchProcess[] = [];
  const stopAll = async () => {
    // Gateways first (they hold client requests), then workers, the upstream, Redis last.
    for (const proc of [...started].reverse()) await proc.stop();
  };
  try {
    const baseEnv = {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      STATS_INTERVAL_SECONDS: '0',
      SHUTDOWN_GRACE_MS: '2000',
    };
    const node = (name: string, role: string, entry: string, env: Record<string, string>) => {
      // Node 20 refuses --cpu-prof in NODE_OPTIONS; as a flag, cluster children inherit it (execArgv).
      const flags = options.profile.includes(role)
        ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`]
        : [];
      if (role === 'gateway') flags.push(...options.gatewayNodeOptions.split(/\s+/).filter(Boolean));
      const proc = spawnProcess(name, process.execPath, [...flags, entry], {
        cwd: options.root,
        env: { ...baseEnv, ...env },
        keepLines: 200,
      });
      started.push(proc);
      return proc;
    };

    const redis = await startRedis();
    started.push(redis.process);

    const upstreamPort = await freePort();
    const upstream = node('upstream', 'upstream', 'tools/mock-upstream/dist/main.js', {
      MOCK_PORT: String(upstreamPort),
      MOCK_WORDS: String(options.words),
      MOCK_CHUNK_DELAY_MS: String(options.chunkDelayMs),
    });
    const upstreamBase = `http://127.0.0.1:${upstreamPort}`;
    await waitUntil('upstream listening', upstream, () => answers200(`${upstreamBase}/v1/models`));
    const upstreamChatUrl = `${upstreamBase}/v1/chat/completions`;

    const shared = { UPSTREAM_API_URL: upstreamChatUrl, QUEUE_PREFIX, ...options.appEnv };
    const gatewayEnv = { ...shared, HOST: '127.0.0.1', GATEWAY_PROCESSES: String(options.gatewayProcesses) };
    const workers = node('workers', 'worker', 'apps/worker/dist/main.js', {
      ...shared,
      REDIS_URL: redis.url,
      WORKER_PROCESSES: String(options.workerProcesses),
      WORKER_CONCURRENCY: String(options.workerConcurrency),
      WORKER_METRICS_PORT: '0',
    });
    const queuePort = await freePort();
    const queueGateway = node('queue gateway', 'gateway', 'apps/gateway/dist/main.js', {
      ...gatewayEnv,
      REDIS_URL: redis.url,
      PORT: String(queuePort),
    });
    const queueGatewayUrl = `http://127.0.0.1:${queuePort}`;

    let standaloneGateway: BenchProcess | undefined;
    let standaloneGatewayUrl: string | undefined;
    if (options.withStandalone) {
      const port = await freePort();
      standaloneGateway = node('standalone gateway', 'gateway', 'apps/gateway/dist/main.js', {
        ...gatewayEnv,
        PORT: String(port),
      });
      standaloneGatewayUrl = `http://127.0.0.1:${port}`;
      await waitUntil('readiness', standaloneGateway, () => answers200(`${standaloneGatewayUrl}/ready`));
    }
    let scheduled: BenchCluster['scheduled'];
    if (options.withScheduled) {
      // Limits far above what the run can reach: the row measures the scheduling, not a wait.
      const file = join(mkdtempSync(join(tmpdir(), 'bench-scheduled-')), 'upstreams.yaml');
      writeFileSync(
        file,
        `upstreams:\n  - url: ${upstreamChatUrl}\n    rpm: 100000000\n    max_concurrency: 1000000\n`,
      );
      const scheduledEnv = { UPSTREAMS_FILE: file, QUEUE_PREFIX: SCHEDULED_PREFIX, REDIS_URL: redis.url };
      const scheduledWorkers = node('scheduled workers', 'worker', 'apps/worker/dist/main.js', {
        ...scheduledEnv,
        WORKER_PROCESSES: String(options.workerProcesses),
        WORKER_CONCURRENCY: String(options.workerConcurrency),
        WORKER_METRICS_PORT: '0',
      });
      const port = await freePort();
      const scheduledGateway = node('scheduled gateway', 'gateway', 'apps/gateway/dist/main.js', {
        ...scheduledEnv,
        HOST: '127.0.0.1',
        GATEWAY_PROCESSES: String(options.gatewayProcesses),
        PORT: String(port),
      });
      const gatewayUrl = `http://127.0.0.1:${port}`;
      await waitUntil('readiness', scheduledGateway, () => answers200(`${gatewayUrl}/ready`));
      await waitForWorkers(redis.port, scheduledWorkers, options.workerProcesses, SCHEDULED_PREFIX);
      scheduled = { gatewayUrl, gateway: scheduledGateway, workers: scheduledWorkers };
    }
    const anchorSettings = {
      upstreamChatUrl,
      redisUrl: redis.url,
      queuePrefix: QUEUE_PREFIX,
      workerConcurrency: options.anchorWorkerConcurrency ?? options.workerConcurrency,
    };
    const anchors: Partial<Record<AnchorName, RunningAnchor>> = {};
    await Promise.all(
      options.anchors.map(async (name) => {
        anchors[name] = await startAnchor(name, node, anchorSettings);
      }),
    );
    await waitUntil('readiness', queueGateway, () => answers200(`${queueGatewayUrl}/ready`));
    await waitForWorkers(redis.port, workers, options.workerProcesses);

    return {
      upstreamChatUrl,
      queueGatewayUrl,
      standaloneGatewayUrl,
      redis: redis.process,
      upstream,
      queueGateway,
      standaloneGateway,
      workers,
      scheduled,
      anchors,
      all: () => [...started],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Workers log nothing at LOG_LEVEL=warn: ready once every child's BullMQ worker is connected. */
async function waitForWorkers(
  redisPort: number,
  workers: BenchProcess,
  count: number,
  prefix = QUEUE_PREFIX,
): Promise<void> {
  const queue = new Queue(QUEUE_NAME, {
    prefix,
    connection: { host: '127.0.0.1', port: redisPort },
  });
  try {
    await waitUntil(`${count} BullMQ workers`, workers, async () => (await queue.getWorkersCount()) >= count);
  } finally {
    await queue.close();
  }
}

/** Which pid is which process, to tell the `--cpu-prof` files (named by pid) apart. */
export function describePids(cluster: BenchCluster): string {
  const pids = cluster.all().map((proc) => `${proc.name} ${proc.pid}`);
  return `pids: ${pids.join(', ')} (node:cluster children have pids of their own)`;
}

import { type SpawnedProcess as BenchProcess, freePort, waitUntil } from '@openai-proxy/test-support';

/**
 * Anchors: the least code that does what a scenario does, measured in the same run, so a
 * scenario's cost can be read against what its building blocks (node:http, Express, BullMQ)
 * cost by themselves. Their sources are in src/anchors/, built to dist/anchors/.
 */
export const ANCHOR_NAMES = [
  'anchor-node-relay',
  'anchor-express-relay',
  'anchor-bullmq',
  'anchor-express-bullmq',
] as const;
export type AnchorName = (typeof ANCHOR_NAMES)[number];

export interface RunningAnchor {
  /** Where clients send requests (the path is relayed as is). */
  url: string;
  /** The process that takes client requests: its CPU and RSS count as "gateway" in its rows. */
  gateway: BenchProcess;
  /** A BullMQ anchor's worker: its CPU and RSS count as "workers". */
  worker: BenchProcess | undefined;
}

/** Starts one Node.js process of the bench cluster (with the cluster's env and profiling flags). */
export type StartNode = (
  name: string,
  role: string,
  entry: string,
  env: Record<string, string>,
) => BenchProcess;

export interface AnchorSettings {
  upstreamChatUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** The same concurrency as each process of the worker farm. */
  workerConcurrency: number;
}

/** Not the worker farm's queue, and one per BullMQ anchor: each side must only take its own jobs. */
const ANCHOR_QUEUE_NAME = 'anchor-completions';

/** The anchors that queue: each runs with a worker of its own. */
const QUEUEING_ANCHORS: readonly AnchorName[] = ['anchor-bullmq', 'anchor-express-bullmq'];

const ENTRIES: Record<AnchorName, string> = {
  'anchor-node-relay': 'bench/dist/anchors/node-relay.js',
  'anchor-express-relay': 'bench/dist/anchors/express-relay.js',
  'anchor-bullmq': 'bench/dist/anchors/bullmq-gateway.js',
  'anchor-express-bullmq': 'bench/dist/anchors/express-bullmq-gateway.js',
};

/** Anchors print `ready` once they serve (and the BullMQ worker once it is connected). */
function printedReady(proc: BenchProcess): Promise<void> {
  return waitUntil('ready', proc, async () => proc.output.includes('ready'));
}

export async function startAnchor(
  name: AnchorName,
  startNode: StartNode,
  settings: AnchorSettings,
): Promise<RunningAnchor> {
  const port = await freePort();
  const env = {
    PORT: String(port),
    UPSTREAM_API_URL: settings.upstreamChatUrl,
    REDIS_URL: settings.redisUrl,
    QUEUE_PREFIX: settings.queuePrefix,
    QUEUE_NAME: `${ANCHOR_QUEUE_NAME}-${name}`,
  };
  let worker: BenchProcess | undefined;
  if (QUEUEING_ANCHORS.includes(name)) {
    worker = startNode(`${name} worker`, 'anchor', 'bench/dist/anchors/bullmq-worker.js', {
      ...env,
      WORKER_CONCURRENCY: String(settings.workerConcurrency),
    });
    await printedReady(worker);
  }
  const gateway = startNode(name, 'anchor', ENTRIES[name], env);
  await printedReady(gateway);
  return { url: `http://127.0.0.1:${port}`, gateway, worker };
}

import { ANCHOR_NAMES, type AnchorName } from './anchor-processes.js';
import type { BenchCluster } from './cluster.js';

/** One way of asking for a completion, and how to tell a correct answer from a wrong one. */
export interface Scenario {
  name: string;
  description: string;
  /** The process that takes the requests (its RSS and CPU are the row's "gateway"); none for the upstream itself. */
  gateway: 'queue' | 'queue-scheduled' | 'standalone' | AnchorName | undefined;
  /** Who folds behind the gateway (their RSS and CPU are the row's "workers"), if anyone. */
  workers: 'farm' | 'farm-scheduled' | 'anchor-bullmq' | 'anchor-express-bullmq' | undefined;
  /** The anchor this scenario's requests/s are divided by (same concurrency, same run). */
  anchor: AnchorName | undefined;
  url(cluster: BenchCluster): string;
  body: string;
  verify(body: string): boolean;
}

const MESSAGES = [{ role: 'user', content: 'Write a short greeting for the benchmark.' }];

function requestBody(stream: boolean): string {
  return JSON.stringify({ model: 'mock-model', messages: MESSAGES, stream });
}

/** A whole SSE answer: it must end with the `[DONE]` event (a cut stream does not). */
export function isCompleteStream(body: string): boolean {
  return body.endsWith('data: [DONE]\n\n');
}

/** A folded answer: a `chat.completion` whose first choice has content and a finish reason. */
export function isChatCompletion(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as {
      object?: unknown;
      choices?: { message?: { content?: unknown }; finish_reason?: unknown }[];
    };
    const first = parsed.choices?.[0];
    return (
      parsed.object === 'chat.completion' &&
      typeof first?.message?.content === 'string' &&
      first.message.content.length > 0 &&
      first.finish_reason === 'stop'
    );
  } catch {
    return false;
  }
}

export const CEILING = 'direct-upstream';

const CHAT_PATH = '/v1/chat/completions';

function anchorUrl(cluster: BenchCluster, name: AnchorName): string {
  const anchor = cluster.anchors[name];
  if (anchor === undefined) throw new Error(`${name} was not started`);
  return `${anchor.url}${CHAT_PATH}`;
}

/** In run order at each concurrency: each anchor just before the scenarios measured against it. */
export const SCENARIOS: Scenario[] = [
  {
    name: CEILING,
    description: 'stream:true straight to the mock upstream (the ceiling)',
    gateway: undefined,
    workers: undefined,
    anchor: undefined,
    url: (cluster) => cluster.upstreamChatUrl,
    body: requestBody(true),
    verify: isCompleteStream,
  },
  {
    name: 'anchor-node-relay',
    description: 'stream:true through ~25 lines of node:http + undici Pool.stream',
    gateway: 'anchor-node-relay',
    workers: undefined,
    anchor: undefined,
    url: (cluster) => anchorUrl(cluster, 'anchor-node-relay'),
    body: requestBody(true),
    verify: isCompleteStream,
  },
  {
    name: 'anchor-express-relay',
    description: 'the same relay inside Express 5 (express.raw() + one handler)',
    gateway: 'anchor-express-relay',
    workers: undefined,
    anchor: undefined,
    url: (cluster) => anchorUrl(cluster, 'anchor-express-relay'),
    body: requestBody(true),
    verify: isCompleteStream,
  },
  {
    name: 'gateway-stream',
    description: 'stream:true piped through the gateway',
    gateway: 'queue',
    workers: undefined,
    anchor: 'anchor-express-relay',
    url: (cluster) => `${cluster.queueGatewayUrl}${CHAT_PATH}`,
    body: requestBody(true),
    verify: isCompleteStream,
  },
  {
    name: 'standalone-nonstream',
    description: 'stream:false folded inside a gateway without Redis',
    gateway: 'standalone',
    workers: undefined,
    anchor: 'anchor-express-relay',
    url: (cluster) => {
      if (cluster.standaloneGatewayUrl === undefined) throw new Error('no standalone gateway started');
      return `${cluster.standaloneGatewayUrl}${CHAT_PATH}`;
    },
    body: requestBody(false),
    verify: isChatCompletion,
  },
  {
    name: 'anchor-bullmq',
    description: 'stream:false through a minimal BullMQ pipeline (Queue.add, one Worker, PUBLISH)',
    gateway: 'anchor-bullmq',
    workers: 'anchor-bullmq',
    anchor: undefined,
    url: (cluster) => anchorUrl(cluster, 'anchor-bullmq'),
    body: requestBody(false),
    verify: isChatCompletion,
  },
  {
    name: 'anchor-express-bullmq',
    description: 'the minimal BullMQ pipeline with its gateway inside Express 5 (what Express adds)',
    gateway: 'anchor-express-bullmq',
    workers: 'anchor-express-bullmq',
    anchor: 'anchor-bullmq',
    url: (cluster) => anchorUrl(cluster, 'anchor-express-bullmq'),
    body: requestBody(false),
    verify: isChatCompletion,
  },
  {
    name: 'queue-nonstream',
    description: 'stream:false through BullMQ, the worker farm and pub/sub',
    gateway: 'queue',
    workers: 'farm',
    // Read against the same pipeline inside Express, the framework this gateway keeps.
    anchor: 'anchor-express-bullmq',
    url: (cluster) => `${cluster.queueGatewayUrl}${CHAT_PATH}`,
    body: requestBody(false),
    verify: isChatCompletion,
  },
  {
    name: 'queue-nonstream-scheduled',
    description:
      'the same with capacity scheduling on (limits never reached): each call reserved and released in Redis',
    gateway: 'queue-scheduled',
    workers: 'farm-scheduled',
    anchor: 'anchor-express-bullmq',
    url: (cluster) => `${scheduledOf(cluster).gatewayUrl}${CHAT_PATH}`,
    body: requestBody(false),
    verify: isChatCompletion,
  },
];

function scheduledOf(cluster: BenchCluster): NonNullable<BenchCluster['scheduled']> {
  if (cluster.scheduled === undefined) throw new Error('the scheduled gateway was not started');
  return cluster.scheduled;
}

/**
 * The scenarios `--only` asks for, plus the ceiling and the anchor of each (a ratio to an
 * anchor means nothing without the anchor measured in the same run); all when `only` is empty.
 */
export function selectScenarios(only: readonly string[]): Scenario[] {
  const unknown = only.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  if (only.length === 0) return SCENARIOS;
  const wanted = new Set<string>([CEILING, ...only]);
  for (const scenario of SCENARIOS) {
    if (wanted.has(scenario.name) && scenario.anchor !== undefined) wanted.add(scenario.anchor);
  }
  return SCENARIOS.filter((scenario) => wanted.has(scenario.name));
}

/** The anchors the given scenarios run or refer to: the ones the cluster must start. */
export function anchorsOf(scenarios: readonly Scenario[]): AnchorName[] {
  return ANCHOR_NAMES.filter((name) => scenarios.some((scenario) => scenario.gateway === name));
}

import type { BenchCluster } from './cluster.js';

/** One way of asking for a completion, and how to tell a correct answer from a wrong one. */
export interface Scenario {
  name: string;
  description: string;
  /** Which gateway serves it (for its RSS); none for the upstream itself. */
  gateway: 'queue' | 'standalone' | undefined;
  /** Whether the worker farm does the work (its RSS and CPU belong to the row). */
  usesWorkers: boolean;
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

export const SCENARIOS: Scenario[] = [
  {
    name: CEILING,
    description: 'stream:true straight to the mock upstream (the ceiling)',
    gateway: undefined,
    usesWorkers: false,
    url: (cluster) => cluster.upstreamChatUrl,
    body: requestBody(true),
    verify: isCompleteStream,
  },
  {
    name: 'gateway-stream',
    description: 'stream:true piped through the gateway',
    gateway: 'queue',
    usesWorkers: false,
    url: (cluster) => `${cluster.queueGatewayUrl}/v1/chat/completions`,
    body: requestBody(true),
    verify: isCompleteStream,
  },
  {
    name: 'queue-nonstream',
    description: 'stream:false through BullMQ, the worker farm and pub/sub',
    gateway: 'queue',
    usesWorkers: true,
    url: (cluster) => `${cluster.queueGatewayUrl}/v1/chat/completions`,
    body: requestBody(false),
    verify: isChatCompletion,
  },
  {
    name: 'standalone-nonstream',
    description: 'stream:false folded inside a gateway without Redis',
    gateway: 'standalone',
    usesWorkers: false,
    url: (cluster) => {
      if (cluster.standaloneGatewayUrl === undefined) throw new Error('no standalone gateway started');
      return `${cluster.standaloneGatewayUrl}/v1/chat/completions`;
    },
    body: requestBody(false),
    verify: isChatCompletion,
  },
];

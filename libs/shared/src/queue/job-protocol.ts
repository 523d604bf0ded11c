import type { CompletionKind, FoldedAnswer } from '../openai/fold-stream.js';

/** What a gateway puts on the queue for one non-stream request. */
export interface CompletionJobData {
  kind: CompletionKind;
  /** The validated client body; the worker adds `stream: true` itself. */
  body: Record<string, unknown>;
  /** Allow-listed client headers for the upstream. */
  headers: Record<string, string>;
  /** The client's Authorization; absent when upstream keys are configured server-side. */
  auth?: string;
  /** The gateway's results channel. */
  replyTo: string;
  /** Epoch ms after which nobody waits for the answer. */
  deadline: number;
  requestId: string;
  /** Epoch ms when the gateway accepted the request (queue wait = start - this). */
  acceptedAt: number;
}

/** Token counts of one answer, as the upstream reported them; null when it reported none. */
export type AnswerUsage = FoldedAnswer['usage'];

/**
 * A job's answer as it travels: `<jobId>\n<status>\n<queueWaitMs>\n<meta>\n<body>`, where
 * `<meta>` is one line of JSON (`JSON.stringify` never writes a raw newline) with the upstream,
 * model and usage, for the gateway's logs and token metrics. The body is the final JSON,
 * serialised once by the worker; the gateway writes it without parsing it again.
 * Only `encodeResult` and `decodeResult` know this format.
 */
export interface CompletionResult {
  jobId: string;
  status: number;
  /** How long the job waited in the queue before a worker took it. */
  queueWaitMs: number;
  body: string;
  /** The upstream's metric label; null when none answered. */
  upstream?: string | null;
  /** The model the upstream named in its answer. */
  model?: string | null;
  usage?: AnswerUsage;
}

interface ResultMeta {
  upstream?: string | null;
  model?: string | null;
  usage?: AnswerUsage;
}

export function encodeResult(result: CompletionResult): string {
  const meta: ResultMeta = {};
  if (result.upstream != null) meta.upstream = result.upstream;
  if (result.model != null) meta.model = result.model;
  if (result.usage != null) meta.usage = result.usage;
  const wait = Math.max(0, Math.round(result.queueWaitMs));
  return `${result.jobId}\n${result.status}\n${wait}\n${JSON.stringify(meta)}\n${result.body}`;
}

export function decodeResult(message: string): CompletionResult | undefined {
  const headerEnds: number[] = [];
  let from = 0;
  for (let field = 0; field < 4; field += 1) {
    const at = message.indexOf('\n', from);
    if (at < 0) return undefined;
    headerEnds.push(at);
    from = at + 1;
  }
  const [idEnd, statusEnd, waitEnd, metaEnd] = headerEnds as [number, number, number, number];
  const status = Number(message.slice(idEnd + 1, statusEnd));
  const queueWaitMs = Number(message.slice(statusEnd + 1, waitEnd));
  if (!Number.isInteger(status) || !Number.isFinite(queueWaitMs)) return undefined;
  const meta = decodeMeta(message.slice(waitEnd + 1, metaEnd));
  if (meta === undefined) return undefined;
  return {
    jobId: message.slice(0, idEnd),
    status,
    queueWaitMs,
    upstream: meta.upstream ?? null,
    model: meta.model ?? null,
    usage: meta.usage ?? null,
    body: message.slice(metaEnd + 1),
  };
}

/** The meta line, each field checked; unknown fields are ignored, a wrong type makes it malformed. */
function decodeMeta(line: string): ResultMeta | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { upstream, model, usage } = parsed as Record<string, unknown>;
  const meta: ResultMeta = {};
  if (upstream !== undefined) {
    if (typeof upstream !== 'string') return undefined;
    meta.upstream = upstream;
  }
  if (model !== undefined) {
    if (typeof model !== 'string') return undefined;
    meta.model = model;
  }
  if (usage !== undefined) {
    const counts = (usage ?? {}) as Record<string, unknown>;
    const { prompt_tokens: prompt, completion_tokens: completion } = counts;
    if (!isCount(prompt) || !isCount(completion)) return undefined;
    meta.usage = { prompt_tokens: prompt, completion_tokens: completion };
  }
  return meta;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

import type { CompletionKind } from '../openai/fold-stream.js';

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

/**
 * A job's answer as it travels: `<jobId>\n<status>\n<queueWaitMs>\n<body>`. The body is the
 * final JSON, serialised once by the worker; the gateway writes it without parsing it again.
 */
export interface CompletionResult {
  jobId: string;
  status: number;
  /** How long the job waited in the queue before a worker took it. */
  queueWaitMs: number;
  body: string;
}

export function encodeResult(result: CompletionResult): string {
  return `${result.jobId}\n${result.status}\n${Math.max(0, Math.round(result.queueWaitMs))}\n${result.body}`;
}

export function decodeResult(message: string): CompletionResult | undefined {
  const headerEnds: number[] = [];
  let from = 0;
  for (let field = 0; field < 3; field += 1) {
    const at = message.indexOf('\n', from);
    if (at < 0) return undefined;
    headerEnds.push(at);
    from = at + 1;
  }
  const [idEnd, statusEnd, waitEnd] = headerEnds as [number, number, number];
  const status = Number(message.slice(idEnd + 1, statusEnd));
  const queueWaitMs = Number(message.slice(statusEnd + 1, waitEnd));
  if (!Number.isInteger(status) || !Number.isFinite(queueWaitMs)) return undefined;
  return { jobId: message.slice(0, idEnd), status, queueWaitMs, body: message.slice(waitEnd + 1) };
}

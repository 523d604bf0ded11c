import type { Answer, AnswerUsage } from '../openai/answer.js';
import { ERROR_CODES, type ErrorCode } from '../openai/errors.js';
import type { CompletionKind } from '../openai/fold-stream.js';

/** What a gateway puts on the queue for one non-stream request. */
export interface CompletionJobData {
  kind: CompletionKind;
  /** The upstream body, serialised once by the gateway (`stream: true` already in it). */
  body: string;
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

/** A job's answer as it travels back to the gateway that waits for it. */
export type QueuedAnswer = Answer & {
  jobId: string;
  /** How long the job waited in the queue before a worker took it. */
  queueWaitMs: number;
};

/**
 * The message format, one field a line, the body last:
 * `<jobId>\n<status>\n<queueWaitMs>\n<upstream>\n<model>\n<usage>\n<errorCode>\n<body>`, where an
 * empty line is null and `<usage>` is `<prompt> <completion>`. The body is the final JSON,
 * serialised once by the worker; the gateway writes it without parsing it. Plain lines rather
 * than a JSON meta object: only the two names from outside (upstream label, model) can hold a
 * line break, and they are escaped (`\\`, `\n`, `\r`) only when they do.
 * Only `encodeAnswer` and `decodeAnswer` know this format.
 */
const HEADER_LINES = 7;

const NEEDS_ESCAPE = /[\\\r\n]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r' };
const UNESCAPES: Record<string, string> = { '\\\\': '\\', '\\n': '\n', '\\r': '\r' };

function line(value: string | null): string {
  if (value === null) return '';
  return NEEDS_ESCAPE.test(value) ? value.replace(/[\\\r\n]/g, (char) => ESCAPES[char] ?? char) : value;
}

function unline(text: string): string | null {
  if (text === '') return null;
  return text.includes('\\') ? text.replace(/\\[\\nr]/g, (pair) => UNESCAPES[pair] ?? pair) : text;
}

export function encodeAnswer(answer: QueuedAnswer): string {
  const usage =
    answer.usage === null ? '' : `${answer.usage.prompt_tokens} ${answer.usage.completion_tokens}`;
  const wait = Math.max(0, Math.round(answer.queueWaitMs));
  return (
    `${answer.jobId}\n${answer.status}\n${wait}\n${line(answer.upstream)}\n${line(answer.model)}\n` +
    `${usage}\n${answer.errorCode ?? ''}\n${answer.body}`
  );
}

export function decodeAnswer(message: string): QueuedAnswer | undefined {
  const fields: string[] = [];
  let from = 0;
  for (let field = 0; field < HEADER_LINES; field += 1) {
    const at = message.indexOf('\n', from);
    if (at < 0) return undefined;
    fields.push(message.slice(from, at));
    from = at + 1;
  }
  const [jobId, statusText, waitText, upstream, model, usageText, errorCode] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const status = Number(statusText);
  const queueWaitMs = Number(waitText);
  if (!Number.isInteger(status) || !Number.isFinite(queueWaitMs) || jobId === '') return undefined;
  const usage = decodeUsage(usageText);
  if (usage === undefined) return undefined;
  if (errorCode !== '' && !Object.hasOwn(ERROR_CODES, errorCode)) return undefined;
  return {
    jobId,
    status,
    queueWaitMs,
    upstream: unline(upstream),
    model: unline(model),
    usage,
    errorCode: errorCode === '' ? null : (errorCode as ErrorCode),
    body: message.slice(from),
  };
}

/** `<prompt> <completion>`; empty is null; anything else makes the message malformed. */
function decodeUsage(text: string): AnswerUsage | null | undefined {
  if (text === '') return null;
  const space = text.indexOf(' ');
  const prompt = Number(text.slice(0, space));
  const completion = Number(text.slice(space + 1));
  if (space < 1 || !isCount(prompt) || !isCount(completion)) return undefined;
  return { prompt_tokens: prompt, completion_tokens: completion };
}

function isCount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

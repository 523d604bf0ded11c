import type { WorkClass } from '../capacity/work-class.js';
import type { Answer, AnswerUsage } from '../fold/answer.js';
import { ERROR_CODES, type ErrorCode } from '../fold/errors.js';
import type { FoldRequest } from '../upstream/complete-from-stream.js';

/**
 * What a gateway puts on the queue for one non-stream request: the request as the route made it,
 * in an envelope that says who waits for the answer and until when.
 */
export interface CompletionJobData {
  request: FoldRequest;
  /** The gateway's results channel. */
  replyTo: string;
  /** The gateway process that waits for the answer: a worker skips the job once it is gone. */
  gatewayId: string;
  /** Epoch ms after which nobody waits for the answer. */
  deadline: number;
  /** Epoch ms when the gateway accepted the request (queue wait = start - this). */
  acceptedAt: number;
  /** Absent: interactive. Decides its place in the queue and its share of upstream capacity. */
  workClass?: WorkClass;
  /**
   * A background response (`POST /v1/responses` with `background: true`): the worker keeps its
   * events and its end in Redis under this id instead of answering a gateway (`replyTo` and
   * `gatewayId` are empty; `deadline` is the end of the response's time to live).
   */
  background?: { responseId: string };
  /** A step of a batch (`/v1/batches`): its check and queueing, one of its lines, or its output files. */
  batch?: BatchJobStep;
}

/**
 * A batch's work in the queue, at batch priority: `validate` checks the input file and queues a job
 * per line (`line`, whose `request` is that line's), and the line that ends last queues `finalize`,
 * which writes the output and error files. Job ids are the batch's id and the step (and line), so
 * a step queued twice runs once.
 */
/** How long a batch's own step (`validate`, `finalize`) may wait and run: it is bound by no window. */
export const BATCH_STEP_MS = 2 * 24 * 3600 * 1000;

/**
 * A batch's own step (`validate`, `finalize`) as a job: its name, its data (no request of its own:
 * the lines carry theirs) and its id, the batch's and the step's, so that a second add of it is none.
 */
export function batchStepJob(
  batchId: string,
  step: 'validate' | 'finalize',
): { name: string; jobId: string; data: CompletionJobData } {
  const now = Date.now();
  return {
    name: `batch:${step}`,
    jobId: `${batchId}-${step}`,
    data: {
      request: { kind: 'batch', body: { model: '', rest: '{}' }, headers: {}, requestId: batchId },
      replyTo: '',
      gatewayId: '',
      deadline: now + BATCH_STEP_MS,
      acceptedAt: now,
      workClass: 'batch',
      batch: { batchId, step },
    },
  };
}

export type BatchJobStep =
  | { batchId: string; step: 'validate' | 'finalize' }
  | { batchId: string; step: 'line'; line: number; customId: string };

/** A job's answer as it travels back to the gateway that waits for it. */
export type QueuedAnswer = Answer & {
  jobId: string;
  /** How long the job waited in the queue before a worker took it. */
  queueWaitMs: number;
};

/**
 * The message format, one field a line, then the answer's headers, then the body:
 * `<jobId>\n<status>\n<queueWaitMs>\n<upstream>\n<model>\n<usage>\n<errorCode>\n<n>\n`, `n` lines
 * `<name>: <value>`, and the body. An empty line is null; `<usage>` is `<prompt> <completion>`.
 * The body is the final JSON, serialised once by the worker; the gateway writes it without
 * parsing it. Plain lines rather than JSON: only text from outside (the upstream label, the
 * model, header values) can hold a line break, and it is escaped (`\\`, `\n`, `\r`) only when
 * it does. Only `encodeAnswer` and `decodeAnswer` know this format.
 */
const FIXED_LINES = 8;

const NEEDS_ESCAPE = /[\\\r\n]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r' };
const UNESCAPES: Record<string, string> = { '\\\\': '\\', '\\n': '\n', '\\r': '\r' };

function line(value: string | null): string {
  if (value === null) return '';
  return NEEDS_ESCAPE.test(value) ? value.replace(/[\\\r\n]/g, (char) => ESCAPES[char] ?? char) : value;
}

function unline(text: string): string {
  return text.includes('\\') ? text.replace(/\\[\\nr]/g, (pair) => UNESCAPES[pair] ?? pair) : text;
}

const nullable = (text: string) => (text === '' ? null : unline(text));

export function encodeAnswer(answer: QueuedAnswer): string {
  const usage =
    answer.usage === null ? '' : `${answer.usage.prompt_tokens} ${answer.usage.completion_tokens}`;
  const wait = Math.max(0, Math.round(answer.queueWaitMs));
  let headers = '';
  let count = 0;
  for (const name in answer.headers) {
    headers += `${name}: ${line(answer.headers[name] ?? '')}\n`;
    count += 1;
  }
  return (
    `${answer.jobId}\n${answer.status}\n${wait}\n${line(answer.upstream)}\n${line(answer.model)}\n` +
    `${usage}\n${answer.errorCode ?? ''}\n${count}\n${headers}${answer.body}`
  );
}

export function decodeAnswer(message: string): QueuedAnswer | undefined {
  const lines: string[] = [];
  let from = 0;
  const nextLine = (): string | undefined => {
    const at = message.indexOf('\n', from);
    if (at < 0) return undefined;
    const text = message.slice(from, at);
    from = at + 1;
    return text;
  };
  for (let field = 0; field < FIXED_LINES; field += 1) {
    const text = nextLine();
    if (text === undefined) return undefined;
    lines.push(text);
  }
  const [jobId, statusText, waitText, upstream, model, usageText, errorCode, countText] = lines as [
    string,
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
  const count = Number(countText);
  if (!Number.isInteger(status) || !Number.isFinite(queueWaitMs) || jobId === '') return undefined;
  if (!Number.isInteger(count) || count < 0 || countText === '') return undefined;
  const usage = decodeUsage(usageText);
  if (usage === undefined) return undefined;
  if (errorCode !== '' && !Object.hasOwn(ERROR_CODES, errorCode)) return undefined;
  const headers: Record<string, string> = {};
  for (let header = 0; header < count; header += 1) {
    const text = nextLine();
    const colon = text?.indexOf(': ') ?? -1;
    if (text === undefined || colon < 1) return undefined;
    headers[text.slice(0, colon)] = unline(text.slice(colon + 2));
  }
  return {
    jobId,
    status,
    queueWaitMs,
    upstream: nullable(upstream),
    model: nullable(model),
    usage,
    errorCode: errorCode === '' ? null : (errorCode as ErrorCode),
    headers,
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

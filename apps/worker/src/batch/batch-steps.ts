import { randomBytes } from 'node:crypto';
import {
  asProxyError,
  type BatchObject,
  batchStepJob,
  type CompletionApi,
  type CompletionJobData,
  type FileStorage,
  foldBody,
  isProxyError,
  type LineEnd,
  newFileId,
  QUEUE_PRIORITY,
  storageKeyOf,
} from '@openai-proxy/shared';
import type { BatchStore, FileStore } from '@openai-proxy/shared/redis';
import { DelayedError, type Job, type Queue } from 'bullmq';
import { JobHandedBackError } from '../hand-back-error.js';
import { foldJobRequest } from '../job-fold.js';
import type { JobOutcome, ProcessorDeps } from '../processor.js';
import { batchLines, checkBatchInput } from './batch-input.js';

/** What a worker needs for batches: where they are kept, the files, and the queue for their steps. */
export interface BatchDeps {
  store: BatchStore;
  files: FileStore;
  storage: FileStorage;
  queue: Queue<CompletionJobData>;
}

/** Lines queued per call: few round trips, no huge one. */
const QUEUE_CHUNK = 500;

const ENDED: ReadonlySet<string> = new Set(['failed', 'completed', 'expired', 'cancelled']);

/** A result line: its first character says which file it goes to (`o` output, `e` error). */
type ResultLine = `o${string}` | `e${string}`;

/**
 * One step of a batch (BatchJobStep). Every step can run again after its worker was lost and
 * changes nothing twice: lines are queued under fixed job ids from where the last run got, a
 * line's result is kept once, and the output files keep the ids chosen the first time.
 */
export async function runBatchStep(
  deps: ProcessorDeps,
  job: Job<CompletionJobData>,
  token: string | undefined,
): Promise<{ outcome: JobOutcome }> {
  const batch = deps.batch;
  const step = job.data.batch;
  if (batch === undefined || step === undefined)
    throw new Error('A batch job reached a worker without batch support.');
  if (step.step === 'line') return runLine(deps, batch, job, token, step);
  if (step.step === 'validate') await validate(deps, batch, step.batchId);
  else await finalize(deps, batch, step.batchId);
  return { outcome: 'success' };
}

/** The API a batch's endpoint is (`/v1/chat/completions` → chat). */
function apiOf(deps: ProcessorDeps, endpoint: string): CompletionApi {
  for (const api of deps.apis.values()) if (api.path === endpoint) return api;
  throw new Error(`No API serves the batch endpoint ${endpoint}.`);
}

async function inputOf(batch: BatchDeps, object: BatchObject, owner: string) {
  const file = await batch.files.get(object.input_file_id, owner);
  if (file === undefined) return undefined;
  return () => batch.storage.read(storageKeyOf(file.id));
}

/**
 * Checks the input file (a bad one fails the batch with its problems by line) and queues a job per
 * line, at batch priority, from the last line a lost run had queued.
 */
async function validate(deps: ProcessorDeps, batch: BatchDeps, batchId: string): Promise<void> {
  const object = await batch.store.get(batchId);
  const access = await batch.store.access(batchId);
  if (object === undefined || access === undefined || ENDED.has(object.status)) return;
  const api = apiOf(deps, object.endpoint);
  const input = await inputOf(batch, object, access.owner);
  if (input === undefined) {
    await batch.store.set(batchId, {
      errors: JSON.stringify([
        { code: 'invalid_file', line: null, message: 'The input file is gone.', param: 'input_file_id' },
      ]),
    });
    if ((await batch.store.move(batchId, 'failed', ['validating']))?.moved) await batch.store.count('failed');
    return;
  }
  // Cancelled before its check ended: nothing ran, nothing to write.
  if (object.status === 'cancelling' && (await batch.store.field(batchId, 'total')) === undefined) {
    await cancelledBeforeRunning(batch, batchId);
    return;
  }
  if (object.status === 'validating') {
    const checked = await checkBatchInput(await input(), object.endpoint, api);
    if ('errors' in checked) {
      await batch.store.set(batchId, { errors: JSON.stringify(checked.errors) });
      if ((await batch.store.move(batchId, 'failed', ['validating']))?.moved)
        await batch.store.count('failed');
      else await cancelledBeforeRunning(batch, batchId);
      return;
    }
    await batch.store.set(batchId, { total: checked.total, model: checked.model });
    if (!(await batch.store.move(batchId, 'in_progress', ['validating']))?.moved) {
      await cancelledBeforeRunning(batch, batchId);
      return;
    }
  }
  let queued = Number((await batch.store.field(batchId, 'enqueued')) ?? 0);
  let ordinal = 0;
  let chunk: Parameters<Queue<CompletionJobData>['addBulk']>[0] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    await batch.queue.addBulk(chunk);
    queued = ordinal;
    await batch.store.set(batchId, { enqueued: queued });
    chunk = [];
  };
  const acceptedAt = Date.now();
  for await (const line of batchLines(await input())) {
    ordinal += 1;
    if (ordinal <= queued) continue;
    const requestId = `batch_req_${randomBytes(16).toString('hex')}`;
    chunk.push({
      name: `batch:${api.kind}`,
      data: {
        request: {
          kind: api.kind,
          body: foldBody(line.body),
          headers: {},
          ...(access.credential === undefined ? {} : { credential: JSON.parse(access.credential) }),
          requestId,
        },
        replyTo: '',
        gatewayId: '',
        deadline: object.expires_at * 1000,
        acceptedAt,
        workClass: 'batch',
        batch: { batchId, step: 'line', line: ordinal, customId: line.customId },
      },
      opts: {
        jobId: `${batchId}-${ordinal}`,
        priority: QUEUE_PRIORITY.batch,
        removeOnComplete: true,
        removeOnFail: true,
      },
    });
    if (chunk.length >= QUEUE_CHUNK) await flush();
  }
  await flush();
  await batch.store.set(batchId, { queued: 1 });
  // Every line may have ended while the last ones were being queued.
  const now = await batch.store.get(batchId);
  const counts = now?.request_counts;
  const skipped = Number((await batch.store.field(batchId, 'skipped')) ?? 0);
  if (counts !== undefined && counts.completed + counts.failed + skipped >= counts.total)
    await queueFinalize(batch, batchId);
}

/** A batch cancelled while it was being checked: `cancelled`, with no files (no request ran). */
async function cancelledBeforeRunning(batch: BatchDeps, batchId: string): Promise<void> {
  if ((await batch.store.move(batchId, 'cancelled', ['cancelling']))?.moved)
    await batch.store.count('cancelled');
}

async function queueFinalize(batch: BatchDeps, batchId: string): Promise<void> {
  const { name, jobId, data } = batchStepJob(batchId, 'finalize');
  await batch.queue.add(name, data, {
    jobId,
    priority: QUEUE_PRIORITY.batch,
    removeOnComplete: true,
    removeOnFail: true,
  });
}

/** One line: its request folded like any non-stream request (not run once the batch is cancelled or expired). */
async function runLine(
  deps: ProcessorDeps,
  batch: BatchDeps,
  job: Job<CompletionJobData>,
  token: string | undefined,
  step: { batchId: string; line: number; customId: string },
): Promise<{ outcome: JobOutcome }> {
  const { request, deadline } = job.data;
  const { batchId, line, customId } = step;
  const id = request.requestId;
  const result = (response: unknown, error: { code: string; message: string } | null) =>
    JSON.stringify({ id, custom_id: customId, response, error });
  const end = async (how: LineEnd, text: ResultLine, outcome: JobOutcome) => {
    const { kept, last } = await batch.store.recordLine(batchId, line, how, text);
    if (last) await queueFinalize(batch, batchId);
    if (kept) deps.metrics.batchLines.inc({ end: how });
    deps.metrics.jobs.inc({ outcome });
    return { outcome };
  };
  const status = await batch.store.field(batchId, 'status');
  if (status === undefined) return { outcome: 'cancelled' };
  if (status === 'cancelling' || status === 'cancelled')
    return end(
      'skipped',
      `e${result(null, { code: 'batch_cancelled', message: 'The batch was cancelled before this request ran.' })}`,
      'cancelled',
    );
  if (Date.now() >= deadline)
    return end(
      'skipped',
      `e${result(null, { code: 'batch_expired', message: 'The request could not be run before the completion window ended.' })}`,
      'expired',
    );
  const api = deps.apis.get(request.kind);
  if (api === undefined) throw new Error(`No API of kind "${request.kind}" in this worker.`);
  const signal = deps.cancels.register(String(job.id), deadline, Date.now());
  deps.metrics.activeJobs.inc();
  try {
    const { answer } = await foldJobRequest(deps, job, token, api, signal, () =>
      deps.metrics.jobs.inc({ outcome: 'delayed' }),
    );
    deps.metrics.countTokens(answer);
    const body = parsedOrText(answer.body);
    if (answer.status === 200)
      return await end(
        'completed',
        `o${result({ status_code: 200, request_id: id, body }, null)}`,
        'success',
      );
    const error = errorOf(body, answer.status);
    return await end(
      'failed',
      `e${result({ status_code: answer.status, request_id: id, body }, error)}`,
      'upstream_error',
    );
  } catch (error) {
    if (error instanceof DelayedError) throw error;
    if (signal.reason instanceof JobHandedBackError) throw signal.reason;
    if (!isProxyError(error)) deps.logger.error({ err: error, jobId: job.id, batchId }, 'unexpected error');
    const proxyError = asProxyError(error, id);
    const response = { status_code: proxyError.status, request_id: id, body: proxyError.toBody() };
    return end(
      'failed',
      `e${result(response, { code: proxyError.code, message: proxyError.message })}`,
      'error',
    );
  } finally {
    deps.cancels.release(String(job.id));
    deps.metrics.activeJobs.dec();
  }
}

function parsedOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** An error answer's code and message, as the error file names them. */
function errorOf(body: unknown, status: number): { code: string; message: string } {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  const fields = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {};
  const code = fields.code ?? fields.type;
  return {
    code: typeof code === 'string' ? code : `http_${status}`,
    message: typeof fields.message === 'string' ? fields.message : `The upstream answered ${status}.`,
  };
}

/**
 * Writes the output file (one line per request answered 200) and the error file (every other
 * line, those never run included), in the input's order, then ends the batch: `completed`,
 * `cancelled` (it was cancelling) or `expired` (a line ran out of its window).
 */
async function finalize(deps: ProcessorDeps, batch: BatchDeps, batchId: string): Promise<void> {
  const object = await batch.store.get(batchId);
  const access = await batch.store.access(batchId);
  if (object === undefined || access === undefined) return;
  if (object.status !== 'in_progress' && object.status !== 'cancelling' && object.status !== 'finalizing')
    return;
  const target = await batch.store.setOnce(
    batchId,
    'final_status',
    object.status === 'cancelling' ? 'cancelled' : 'completed',
  );
  await batch.store.move(batchId, 'finalizing', ['in_progress', 'cancelling']);
  const results = new Map<number, string>();
  for await (const [line, text] of batch.store.results(batchId)) results.set(line, text);
  // Lines never run (cancelled while they were being queued) are named in the error file too.
  const total = object.request_counts.total;
  if (results.size < total) {
    const input = await inputOf(batch, object, access.owner);
    let ordinal = 0;
    if (input !== undefined)
      for await (const line of batchLines(await input())) {
        ordinal += 1;
        if (results.has(ordinal)) continue;
        results.set(
          ordinal,
          `e${JSON.stringify({ id: `batch_req_${randomBytes(16).toString('hex')}`, custom_id: line.customId, response: null, error: { code: 'batch_cancelled', message: 'The batch was cancelled before this request ran.' } })}`,
        );
      }
  }
  let output = '';
  let errors = '';
  let expired = false;
  for (const line of [...results.keys()].sort((a, b) => a - b)) {
    const text = results.get(line) as string;
    if (text.startsWith('o')) output += `${text.slice(1)}\n`;
    else {
      errors += `${text.slice(1)}\n`;
      if (text.includes('"code":"batch_expired"')) expired = true;
    }
  }
  const fields: Record<string, string> = {};
  if (output !== '')
    fields.output_file_id = await writeFile(
      batch,
      batchId,
      'output_file_id',
      output,
      access.owner,
      object.id,
      'output',
    );
  if (errors !== '')
    fields.error_file_id = await writeFile(
      batch,
      batchId,
      'error_file_id',
      errors,
      access.owner,
      object.id,
      'error',
    );
  if (Object.keys(fields).length > 0) await batch.store.set(batchId, fields);
  const status = target === 'completed' && expired ? 'expired' : (target as 'completed' | 'cancelled');
  if ((await batch.store.move(batchId, status, ['finalizing']))?.moved) {
    await batch.store.count(status);
    deps.logger.info({ batchId, status, lines: results.size }, 'batch ended');
  }
  await batch.store.dropResults(batchId);
}

/** Writes one of the batch's files under the id chosen the first time (a rerun overwrites it). */
async function writeFile(
  batch: BatchDeps,
  batchId: string,
  field: 'output_file_id' | 'error_file_id',
  text: string,
  owner: string,
  objectId: string,
  which: 'output' | 'error',
): Promise<string> {
  const id = await batch.store.setOnce(batchId, field, newFileId());
  const body = Buffer.from(text);
  const bytes = await batch.storage.write(storageKeyOf(id), body, Number.MAX_SAFE_INTEGER);
  await batch.files.add(
    {
      id,
      object: 'file',
      bytes,
      created_at: Math.floor(Date.now() / 1000),
      filename: `${objectId}_${which}.jsonl`,
      purpose: 'batch_output',
      status: 'processed',
      expires_at: null,
    },
    owner,
  );
  return id;
}

/**
 * A step BullMQ gave up on (its worker died twice): a line is recorded failed (`job_failed`), so the
 * batch still ends; a check fails the batch.
 */
export async function failBatchStep(
  batch: BatchDeps,
  data: CompletionJobData,
  reason: string,
): Promise<void> {
  const step = data.batch;
  if (step === undefined) return;
  const message = `The step failed in the worker farm: ${reason}`;
  if (step.step === 'line') {
    const error = JSON.stringify({
      id: data.request.requestId,
      custom_id: step.customId,
      response: null,
      error: { code: 'job_failed', message },
    });
    const { last } = await batch.store.recordLine(step.batchId, step.line, 'failed', `e${error}`);
    if (last) await queueFinalize(batch, step.batchId);
  } else if (step.step === 'validate') {
    await batch.store.set(step.batchId, {
      errors: JSON.stringify([{ code: 'job_failed', line: null, message, param: null }]),
    });
    if ((await batch.store.move(step.batchId, 'failed', ['validating', 'in_progress', 'cancelling']))?.moved)
      await batch.store.count('failed');
  }
}

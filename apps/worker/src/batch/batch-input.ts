import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  type BatchInputError,
  type CompletionApi,
  checkRequest,
  isObject,
  isProxyError,
} from '@openai-proxy/shared';

/** OpenAI's limit on the requests of one batch. */
export const MAX_BATCH_LINES = 50_000;
/** The problems listed for one file: enough to fix a file, not a second copy of a bad one. */
const MAX_LISTED_ERRORS = 100;

/** One request of a batch input file, as checked: its line number (from 1), `custom_id` and body. */
export interface BatchLine {
  line: number;
  customId: string;
  body: Record<string, unknown>;
}

/** The non-empty lines of a JSONL file, with their line numbers. */
async function* jsonLines(source: Readable): AsyncGenerator<{ line: number; text: string }> {
  let line = 0;
  for await (const text of createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY })) {
    line += 1;
    if (text.trim() !== '') yield { line, text };
  }
}

/**
 * Checks every line of an input file before any request runs, as OpenAI does: a JSON object
 * `{custom_id, method: "POST", url, body}`, `custom_id` unique, `url` the batch's endpoint, a body
 * the endpoint's API takes (the proxy's own checks of it), one model for the whole file, at most
 * 50,000 lines. Problems are listed by line (the first 100); none: the count and the model.
 */
export async function checkBatchInput(
  source: Readable,
  endpoint: string,
  api: CompletionApi,
): Promise<{ errors: BatchInputError[] } | { total: number; model: string }> {
  const errors: BatchInputError[] = [];
  const seen = new Set<string>();
  let model: string | undefined;
  let total = 0;
  const problem = (code: string, line: number | null, message: string, param: string | null = null) => {
    if (errors.length < MAX_LISTED_ERRORS) errors.push({ code, line, message, param });
  };
  for await (const { line, text } of jsonLines(source)) {
    total += 1;
    // Past the limit the file fails anyway: the rest is not read.
    if (total > MAX_BATCH_LINES) break;
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      problem('invalid_json_line', line, 'This line is not parseable as valid JSON.');
      continue;
    }
    if (!isObject(request)) {
      problem('invalid_json_line', line, 'This line is not a JSON object.');
      continue;
    }
    const { custom_id: customId, method, url, body } = request;
    if (customId === undefined || customId === '') {
      problem(
        'missing_required_parameter',
        line,
        'Each request needs a `custom_id`, a non-empty string.',
        'custom_id',
      );
      continue;
    }
    if (typeof customId !== 'string') {
      problem('invalid_type', line, '`custom_id` must be a string.', 'custom_id');
      continue;
    }
    if (seen.has(customId)) {
      problem(
        'duplicate_custom_id',
        line,
        'The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.',
        'custom_id',
      );
      continue;
    }
    seen.add(customId);
    if (method !== 'POST') {
      problem('invalid_method', line, 'The method of each request must be POST.', 'method');
      continue;
    }
    if (url !== endpoint) {
      problem(
        'mismatched_endpoint',
        line,
        `The url of this request (${String(url)}) is not the batch's endpoint (${endpoint}).`,
        'url',
      );
      continue;
    }
    if (!isObject(body)) {
      problem('missing_required_parameter', line, 'Each request needs a `body`, a JSON object.', 'body');
      continue;
    }
    try {
      checkRequest(api, body);
    } catch (error) {
      if (!isProxyError(error)) throw error;
      problem(error.code, line, error.message, error.param === null ? 'body' : `body.${error.param}`);
      continue;
    }
    const lineModel = body.model as string;
    model ??= lineModel;
    if (lineModel !== model)
      problem(
        'mismatched_model',
        line,
        `Every request of a batch must use the same model (${model}); this one uses ${lineModel}.`,
        'body.model',
      );
  }
  // Problems of the whole file are listed whatever the count of the others.
  if (total === 0)
    errors.push({ code: 'empty_file', line: null, message: 'The input file has no requests.', param: null });
  if (total > MAX_BATCH_LINES)
    errors.push({
      code: 'too_many_tasks',
      line: null,
      message: `The input file has more than ${MAX_BATCH_LINES} requests, the most a batch takes.`,
      param: null,
    });
  if (errors.length > 0 || model === undefined) return { errors };
  return { total, model };
}

/** The requests of a file `checkBatchInput` found sound, in order. */
export async function* batchLines(source: Readable): AsyncGenerator<BatchLine> {
  for await (const { line, text } of jsonLines(source)) {
    const request = JSON.parse(text) as { custom_id: string; body: Record<string, unknown> };
    yield { line, customId: request.custom_id, body: request.body };
  }
}

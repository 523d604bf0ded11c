import type { ErrorDialect } from '../fold/error-dialect.js';
import type { FoldedAnswer, StreamFolder } from '../fold/stream-folder.js';
import type { KeyHeader } from '../upstream/call-upstream.js';
import { missing, wrongType, wrongValue } from './request-checks/field-errors.js';

/**
 * Everything that differs between the APIs the proxy serves, in one place: the route, what a
 * request must hold, the fold of its stream, where its key goes and how its errors look. The
 * gateway's route table, the completers, the jobs and the workers all take it from here, and the
 * rest (queue, failover, limits, deadlines) is shared: adding an API is adding a descriptor.
 */
export interface CompletionApi {
  /** Its name in jobs, logs and metrics. */
  readonly kind: string;
  /** Where clients call it on the gateway. */
  readonly path: `/v1/${string}`;
  /** Where an upstream serves it, below the upstream's `/v1`. */
  readonly endpoint: string;
  /**
   * Throws the 400 for the first field the proxy cannot work with, beyond `model` and `stream`
   * (checked for every API). Only what the proxy relies on: every other field is the upstream's.
   */
  checkRequest(body: Record<string, unknown>): void;
  /** A new fold of the upstream's SSE events into the non-stream answer (usage included). */
  folder(): StreamFolder<FoldedAnswer>;
  /** Where the upstream takes its key, and the gateway its clients' keys. */
  readonly keyHeader: KeyHeader;
  /** Whether the API has `stream_options.include_usage` (Responses and Messages always report usage). */
  readonly hasStreamOptions: boolean;
  /** The shape of the errors its clients read; in-stream upstream errors map to it in its folder. */
  readonly errorDialect: ErrorDialect;
  /**
   * Whether the API has OpenAI's background mode (`background: true`: answered at once, generated
   * in the worker farm, retrieved later); Responses only. Absent: `background` is the upstream's.
   */
  readonly backgroundMode?: boolean;
}

/**
 * Checks a parsed request body against its API: `model`, a non-empty string; `stream`, a boolean
 * or null (OpenAI's "not set"); then the API's own fields. Returns the `stream` flag.
 */
export function checkRequest(api: CompletionApi, body: Record<string, unknown>): boolean {
  const { model, stream } = body;
  if (model === undefined) throw missing('model');
  if (typeof model !== 'string') throw wrongType('model', 'must be a string');
  if (model === '') throw wrongValue('model', 'must not be empty');
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean')
    throw wrongType('stream', 'must be a boolean');
  api.checkRequest(body);
  return stream === true;
}

import type { CompletionApi } from '../apis/completion-api.js';
import type { Upstream } from './upstream.js';

/**
 * A completion body as a fold sends it, made once by the gateway and split so that each upstream's
 * version is a few concatenations, never a parse: the alias it knows the model by, and
 * `stream_options` only where it takes them. It travels in the job as it is.
 */
export interface FoldBody {
  /** The model the client asked for. */
  model: string;
  /** The client's body less `model`, `stream` and `stream_options`, serialised once: `{…}`. */
  rest: string;
  /** The client's own `stream_options` (absent when it sent none). */
  streamOptions?: unknown;
}

/** The client's parsed body (its `model` checked to be a string) as a FoldBody. */
export function foldBody(body: Record<string, unknown>): FoldBody {
  const { model, stream: _stream, stream_options: streamOptions, ...rest } = body;
  return {
    model: String(model),
    rest: JSON.stringify(rest),
    ...(streamOptions === undefined ? {} : { streamOptions }),
  };
}

/**
 * What `upstream` is sent for a fold: `stream: true`, its name for the model, and, on an API that
 * has them, `stream_options.include_usage` so the answer carries usage, or no `stream_options` at
 * all for an upstream that rejects them (`include_usage: false`). Every other field as it came.
 */
export function foldBodyFor(api: CompletionApi, body: FoldBody, upstream: Upstream): string {
  const model = JSON.stringify(upstream.aliasFor(body.model) ?? body.model);
  let options = '';
  if (!api.hasStreamOptions) {
    if (body.streamOptions !== undefined) options = `,"stream_options":${JSON.stringify(body.streamOptions)}`;
  } else if (upstream.includeUsage) {
    const own =
      typeof body.streamOptions === 'object' && body.streamOptions !== null ? body.streamOptions : {};
    options = `,"stream_options":${JSON.stringify({ ...own, include_usage: true })}`;
  }
  const fields = body.rest === '{}' ? '}' : `,${body.rest.slice(1)}`;
  return `{"model":${model},"stream":true${options}${fields}`;
}

/**
 * What `upstream` is sent for a streamed request: the client's bytes untouched (the fast path),
 * unless this upstream knows the model by an alias or rejects the `stream_options` the client
 * sent; then the body is serialised for it, with only those two fields changed.
 */
export function streamBodyFor(
  api: CompletionApi,
  body: Record<string, unknown>,
  bytes: Buffer,
  upstream: Upstream,
): string | Buffer {
  const model = body.model as string;
  const alias = upstream.aliasFor(model);
  const dropOptions = !upstream.includeUsage && api.hasStreamOptions && body.stream_options !== undefined;
  if (alias === undefined && !dropOptions) return bytes;
  const { stream_options: streamOptions, ...rest } = body;
  return JSON.stringify({
    ...rest,
    model: alias ?? model,
    ...(dropOptions || streamOptions === undefined ? {} : { stream_options: streamOptions }),
  });
}

/** Every `"model": "…"` member of JSON text (keys inside strings are escaped, so never matched). */
const MODEL_MEMBER = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/g;

/**
 * JSON text (an answer, or SSE events) with every `model` member naming `model`: an upstream that
 * was sent an alias answers under that alias, and the client is shown the name it asked for.
 */
export function renameModel(text: string, model: string): string {
  const member = `"model":${JSON.stringify(model)}`;
  return text.replace(MODEL_MEMBER, () => member);
}

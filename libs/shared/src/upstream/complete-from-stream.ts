import { type Answer, errorAnswer } from '../openai/answer.js';
import { errors, isProxyError } from '../openai/errors.js';
import { COMPLETION_ENDPOINTS, type CompletionKind, type FoldedAnswer } from '../openai/fold-stream.js';
import { FoldingSink, TextSink } from './body-sinks.js';
import {
  type ClientCredential,
  streamUpstream,
  toUpstreamError,
  type UpstreamObserver,
  type UpstreamTimeouts,
} from './call-upstream.js';
import { COMPLETION_APIS } from './completion-apis.js';
import { answerHeaders } from './forward-headers.js';
import type { Upstream } from './upstream.js';
import type { UpstreamSet } from './upstream-set.js';

export interface NonStreamSettings {
  maxTries: number;
  /** Further attempts when a stream breaks mid-way; safe because nothing reached the client yet. */
  streamRetries: number;
  timeouts: UpstreamTimeouts;
}

export interface NonStreamRequest {
  kind: CompletionKind;
  /** The upstream body, serialised once by the gateway with `stream: true` (see `streamingBody`). */
  body: string;
  headers: Record<string, string>;
  /** The client's own key, passed on when the upstream has none of its own. */
  clientCredential: ClientCredential | undefined;
  signal: AbortSignal;
}

/** Stream breaks worth another try: the connection or the stream ended early, the upstream went quiet. */
const RETRYABLE_STREAM_CODES = new Set([
  'upstream_stream_truncated',
  'upstream_stream_empty',
  'upstream_unavailable',
  'idle_timeout',
]);

/**
 * The client's body as the upstream gets it for a fold: `stream: true`, and, with
 * `includeUsage` on an API that has it, `stream_options.include_usage` so the folded answer
 * carries usage. Serialised here, once; every other field travels on untouched.
 */
export function streamingBody(
  kind: CompletionKind,
  body: Record<string, unknown>,
  includeUsage: boolean,
): string {
  if (!includeUsage || !COMPLETION_APIS[kind].hasStreamOptions)
    return JSON.stringify({ ...body, stream: true });
  const options =
    typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
  return JSON.stringify({ ...body, stream: true, stream_options: { ...options, include_usage: true } });
}

/**
 * Answers a non-stream request by asking an upstream for a stream and folding it: the one
 * code path behind both the queue worker and standalone mode. Upstream HTTP errors are
 * relayed with their status and body; a broken stream becomes a 502, never a shortened 200.
 * Throws only the signal's reason, when the caller aborted.
 *
 * The body is written by undici's `stream()` straight into a sink chosen from the status line: a
 * `FoldingSink` for a 200 event stream, a `TextSink` for anything to relay as sent.
 */
export async function completeFromStream(
  upstreams: UpstreamSet,
  settings: NonStreamSettings,
  request: NonStreamRequest,
  observe?: UpstreamObserver,
): Promise<Answer & Pick<FoldedAnswer, 'chunks' | 'mismatches'>> {
  const api = COMPLETION_APIS[request.kind];
  for (let attempt = 0; ; attempt += 1) {
    let reply: { upstream: Upstream; status: number; headers: Answer['headers'] } | undefined;
    let folding: FoldingSink<FoldedAnswer> | undefined;
    let text: TextSink | undefined;
    try {
      try {
        await streamUpstream(
          upstreams,
          {
            endpoint: COMPLETION_ENDPOINTS[request.kind],
            method: 'POST',
            headers: request.headers,
            keyHeader: api.keyHeader,
            clientCredential: request.clientCredential,
            body: request.body,
            signal: request.signal,
            maxTries: settings.maxTries,
            timeouts: settings.timeouts,
          },
          (upstream, status, headers) => {
            reply = { upstream, status, headers: answerHeaders(headers) };
            // An error before the stream, or a provider that answered in JSON after all: relayed as sent.
            if (status !== 200 || !String(headers['content-type'] ?? '').includes('text/event-stream')) {
              text = new TextSink();
              return text;
            }
            folding = new FoldingSink(api.folder());
            return folding;
          },
          observe,
        );
      } catch (error) {
        // Once the fold has its last event, a broken or endless tail changes nothing.
        if (folding === undefined || !folding.complete) throw error;
      }
      if (reply === undefined) throw errors.upstreamUnavailable('No upstream could be reached.');
      const label = reply.upstream.label;
      if (text !== undefined || folding === undefined) {
        return {
          status: reply.status,
          body: text?.text ?? '',
          upstream: label,
          model: null,
          usage: null,
          errorCode: null,
          headers: reply.headers,
          chunks: 0,
        };
      }
      return { status: 200, upstream: label, errorCode: null, headers: reply.headers, ...folding.answer() };
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason ?? error;
      const proxyError = toUpstreamError(error, settings.timeouts);
      const streamStarted = folding !== undefined;
      const retryable = RETRYABLE_STREAM_CODES.has(proxyError.code);
      // A stream that broke (rather than one the fold refused as malformed) counts against its upstream.
      if (streamStarted && (!isProxyError(error) || retryable))
        reply?.upstream.health.markFailure(Date.now());
      if (streamStarted && retryable && attempt < settings.streamRetries) continue;
      return { ...errorAnswer(proxyError, reply?.upstream.label ?? null, api.errorDialect), chunks: 0 };
    }
  }
}

import { type Answer, errorAnswer } from '../openai/answer.js';
import { isProxyError } from '../openai/errors.js';
import { COMPLETION_ENDPOINTS, type CompletionKind, foldUpstreamStream } from '../openai/fold-stream.js';
import {
  callUpstream,
  toUpstreamError,
  type UpstreamObserver,
  type UpstreamTimeouts,
} from './call-upstream.js';
import { answerHeaders } from './forward-headers.js';
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
  clientAuthorization: string | undefined;
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
 * `includeUsage`, `stream_options.include_usage` so the folded answer carries usage.
 * Serialised here, once; every other field travels on untouched.
 */
export function streamingBody(body: Record<string, unknown>, includeUsage: boolean): string {
  if (!includeUsage) return JSON.stringify({ ...body, stream: true });
  const options =
    typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
  return JSON.stringify({ ...body, stream: true, stream_options: { ...options, include_usage: true } });
}

/**
 * Answers a non-stream request by asking an upstream for a stream and folding it: the one
 * code path behind both the queue worker and standalone mode. Upstream HTTP errors are
 * relayed with their status and body; a broken stream becomes a 502, never a shortened 200.
 * Throws only the signal's reason, when the caller aborted.
 */
export async function completeFromStream(
  upstreams: UpstreamSet,
  settings: NonStreamSettings,
  request: NonStreamRequest,
  observe?: UpstreamObserver,
): Promise<Answer & { chunks: number }> {
  for (let attempt = 0; ; attempt += 1) {
    let label: string | null = null;
    let streamStarted = false;
    try {
      const response = await callUpstream(
        upstreams,
        {
          endpoint: COMPLETION_ENDPOINTS[request.kind],
          method: 'POST',
          headers: request.headers,
          clientAuthorization: request.clientAuthorization,
          body: request.body,
          signal: request.signal,
          maxTries: settings.maxTries,
          timeouts: settings.timeouts,
        },
        observe,
      );
      label = response.upstream.label;
      const headers = answerHeaders(response.headers);
      const contentType = String(response.headers['content-type'] ?? '');
      if (response.statusCode !== 200 || !contentType.includes('text/event-stream')) {
        // An error before the stream, or a provider that answered in JSON after all: relay it as sent.
        return {
          status: response.statusCode,
          body: await response.body.text(),
          upstream: label,
          model: null,
          usage: null,
          errorCode: null,
          headers,
          chunks: 0,
        };
      }
      streamStarted = true;
      try {
        const folded = await foldUpstreamStream(request.kind, response.body);
        return { status: 200, upstream: label, errorCode: null, headers, ...folded };
      } catch (error) {
        if (
          !isProxyError(error) ||
          RETRYABLE_STREAM_CODES.has(toUpstreamError(error, settings.timeouts).code)
        ) {
          response.upstream.health.markFailure(Date.now());
        }
        throw error;
      }
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason ?? error;
      const proxyError = toUpstreamError(error, settings.timeouts);
      const retryable = streamStarted && RETRYABLE_STREAM_CODES.has(proxyError.code);
      if (retryable && attempt < settings.streamRetries) continue;
      return { ...errorAnswer(proxyError, label), chunks: 0 };
    }
  }
}

import { isProxyError, type ProxyError } from '../openai/errors.js';
import { type CompletionKind, foldUpstreamStream } from '../openai/fold-stream.js';
import {
  callUpstream,
  toUpstreamError,
  type UpstreamObserver,
  type UpstreamTimeouts,
} from './call-upstream.js';
import type { UpstreamSet } from './upstream-set.js';

export interface NonStreamSettings {
  includeUsage: boolean;
  maxTries: number;
  /** Further attempts when a stream breaks mid-way; safe because nothing reached the client yet. */
  streamRetries: number;
  timeouts: UpstreamTimeouts;
}

export interface NonStreamRequest {
  kind: CompletionKind;
  /** The client's body; `stream` is false or absent. Unknown fields travel on untouched. */
  body: Record<string, unknown>;
  headers: Record<string, string>;
  clientAuthorization: string | undefined;
  signal: AbortSignal;
}

/** The answer to send: a status and the body, serialised once, written as is. */
export interface NonStreamAnswer {
  status: number;
  body: string;
  upstream: string | null;
  model: string | null;
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  chunks: number;
  /** The proxy's own error code when the answer is one of its errors. */
  errorCode: string | null;
}

const ENDPOINTS: Record<CompletionKind, string> = { chat: '/chat/completions', completion: '/completions' };

/** Stream breaks worth another try: the connection or the stream ended early, the upstream went quiet. */
const RETRYABLE_STREAM_CODES = new Set([
  'upstream_stream_truncated',
  'upstream_stream_empty',
  'upstream_unavailable',
  'idle_timeout',
]);

export function toStreamingBody(
  body: Record<string, unknown>,
  includeUsage: boolean,
): Record<string, unknown> {
  if (!includeUsage) return { ...body, stream: true };
  const options =
    typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
  return { ...body, stream: true, stream_options: { ...options, include_usage: true } };
}

export function errorAnswer(error: ProxyError, upstream: string | null = null): NonStreamAnswer {
  return {
    status: error.status,
    body: JSON.stringify(error.toBody()),
    upstream,
    model: null,
    usage: null,
    chunks: 0,
    errorCode: error.code,
  };
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
): Promise<NonStreamAnswer> {
  const body = JSON.stringify(toStreamingBody(request.body, settings.includeUsage));
  for (let attempt = 0; ; attempt += 1) {
    let label: string | null = null;
    let streamStarted = false;
    try {
      const response = await callUpstream(
        upstreams,
        {
          endpoint: ENDPOINTS[request.kind],
          method: 'POST',
          headers: request.headers,
          clientAuthorization: request.clientAuthorization,
          body,
          signal: request.signal,
          maxTries: settings.maxTries,
          timeouts: settings.timeouts,
        },
        observe,
      );
      label = response.upstream.label;
      const contentType = String(response.headers['content-type'] ?? '');
      if (response.statusCode !== 200 || !contentType.includes('text/event-stream')) {
        // An error before the stream, or a provider that answered in JSON after all: relay it as sent.
        return {
          status: response.statusCode,
          body: await response.body.text(),
          upstream: label,
          model: null,
          usage: null,
          chunks: 0,
          errorCode: null,
        };
      }
      streamStarted = true;
      try {
        const folded = await foldUpstreamStream(request.kind, response.body);
        return { status: 200, body: folded.json, upstream: label, ...folded, errorCode: null };
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
      return errorAnswer(proxyError, label);
    }
  }
}

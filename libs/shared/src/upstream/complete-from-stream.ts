import type { CompletionApi } from '../apis/completion-api.js';
import { type Answer, errorAnswer } from '../fold/answer.js';
import { upstreamBodyIn } from '../fold/error-dialect.js';
import { errors, isProxyError } from '../fold/errors.js';
import type { FoldedAnswer } from '../fold/stream-folder.js';
import { FoldingSink, TextSink } from './body-sinks.js';
import {
  type ClientCredential,
  streamUpstream,
  toUpstreamError,
  type UpstreamObserver,
  type UpstreamTimeouts,
} from './call-upstream.js';
import { answerHeaders } from './forward-headers.js';
import { type FoldBody, foldBodyFor, renameModel } from './routed-body.js';
import type { Upstream } from './upstream.js';
import { failureDetail, isUpstreamFailure } from './upstream-failure.js';
import type { UpstreamGroup } from './upstream-group.js';

export interface NonStreamSettings {
  maxTries: number;
  /** Further attempts when a stream breaks mid-way; safe because nothing reached the client yet. */
  streamRetries: number;
  timeouts: UpstreamTimeouts;
}

/**
 * One non-stream request, as the route made it: it travels unchanged to whoever folds it, in
 * this process or, inside a job's envelope (`CompletionJobData`), in a worker.
 */
export interface FoldRequest {
  /** The API it was made for (`CompletionApi.kind`): the fold, the key header, the error shape. */
  kind: string;
  /** The client's body, made once by the gateway; each upstream's version is built from it. */
  body: FoldBody;
  /** Allow-listed client headers for the upstream. */
  headers: Record<string, string>;
  /** The client's own key, passed on when the upstream has none of its own; absent otherwise. */
  credential?: ClientCredential;
  requestId: string;
}

/**
 * A non-stream answer, with what the log needs: the fold's counts and, for an error answer the
 * proxy made of an upstream failure, `failure`: what went wrong in the error's own words
 * (addresses included), for the log only.
 */
export type NonStreamAnswer = Answer & Pick<FoldedAnswer, 'chunks' | 'mismatches'> & { failure?: string };

/** Stream breaks worth another try: the connection or the stream ended early, the upstream went quiet. */
const RETRYABLE_STREAM_CODES = new Set([
  'upstream_stream_truncated',
  'upstream_stream_empty',
  'upstream_unavailable',
  'idle_timeout',
]);

/**
 * Answers a non-stream request by asking an upstream for a stream and folding it: the one
 * code path behind both the queue worker and standalone mode. Upstream HTTP errors are
 * relayed with their status and body (in Anthropic's shape on the Anthropic dialect); a broken
 * stream becomes a 502, never a shortened 200.
 * Throws only the signal's reason, when the caller aborted, and an error that is no upstream
 * failure (a bug of ours, see `isUpstreamFailure`), unchanged: never retried, nobody cooled down.
 *
 * The body is written by undici's `stream()` straight into a sink chosen from the status line: a
 * `FoldingSink` for a 200 event stream, a `TextSink` for anything to relay as sent.
 */
export async function completeFromStream(
  upstreams: UpstreamGroup,
  settings: NonStreamSettings,
  api: CompletionApi,
  request: FoldRequest,
  signal: AbortSignal,
  observe?: UpstreamObserver,
): Promise<NonStreamAnswer> {
  for (let attempt = 0; ; attempt += 1) {
    let reply: { upstream: Upstream; status: number; headers: Answer['headers'] } | undefined;
    let folding: FoldingSink<FoldedAnswer> | undefined;
    let text: TextSink | undefined;
    try {
      try {
        await streamUpstream(
          upstreams,
          {
            endpoint: api.endpoint,
            method: 'POST',
            headers: request.headers,
            keyHeader: api.keyHeader,
            clientCredential: request.credential,
            bodyFor: (upstream) => foldBodyFor(api, request.body, upstream),
            signal,
            maxTries: settings.maxTries,
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
          // An error body in the client's dialect: Anthropic's SDKs read no other shape.
          body: upstreamBodyIn(api.errorDialect, reply.status, text?.text ?? ''),
          upstream: label,
          model: null,
          usage: null,
          errorCode: null,
          headers: reply.headers,
          chunks: 0,
        };
      }
      const folded = folding.answer();
      const clientModel = request.body.model;
      if (reply.upstream.aliasFor(clientModel) !== undefined) {
        // The client is answered under the name it asked for, not the upstream's alias.
        folded.body = renameModel(folded.body, clientModel);
        folded.model = clientModel;
      }
      return { status: 200, upstream: label, errorCode: null, headers: reply.headers, ...folded };
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      // A bug of ours is no upstream's failure: thrown as is, for a 500 (no retry, no cool-down).
      if (!isUpstreamFailure(error)) throw error;
      const proxyError = toUpstreamError(error, reply?.upstream.timeouts ?? settings.timeouts);
      const streamStarted = folding !== undefined;
      const retryable = RETRYABLE_STREAM_CODES.has(proxyError.code);
      // A stream that broke (rather than one the fold refused as malformed) counts against its upstream.
      if (streamStarted && (!isProxyError(error) || retryable))
        reply?.upstream.health.markFailure(Date.now());
      if (streamStarted && retryable && attempt < settings.streamRetries) continue;
      const answer = errorAnswer(proxyError, reply?.upstream.label ?? null, api.errorDialect);
      return { ...answer, chunks: 0, failure: failureDetail(proxyError) };
    }
  }
}

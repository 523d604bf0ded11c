import {
  COMPLETION_ENDPOINTS,
  type CompletionKind,
  errorAnswer,
  internalError,
  isProxyError,
  pickForwardedHeaders,
  streamingBody,
} from '@openai-proxy/shared';
import { requestTimeoutMs } from '../pipeline/client-deadline.js';
import { readJsonBody } from '../pipeline/json-body.js';
import type { RouteHandler } from '../pipeline/request-door.js';
import { writeJson } from '../pipeline/write-json.js';
import { KeepaliveWriter } from '../relay/keepalive-writer.js';
import type { CompletedAnswer } from '../relay/non-stream-completer.js';
import { relayUpstream } from '../relay/upstream-relay.js';
import { checkCompletionRequest } from '../validation/completion-request.js';
import type { RouteDeps } from './route-deps.js';

/**
 * `POST /v1/chat/completions` and `POST /v1/completions`, the whole way of a request:
 * the `/v1` guard, one reading of the JSON body, the fields the proxy relies on, then
 * - `stream: true`: the client's bytes go to an upstream and its stream is piped back as is;
 * - otherwise: the body, serialised once with `stream: true`, is folded from an upstream stream
 *   (through the queue, or in this process) and the answer is written as one JSON.
 */
export function completionRoute(kind: CompletionKind, deps: RouteDeps): RouteHandler {
  const { config, completer } = deps;
  const endpoint = COMPLETION_ENDPOINTS[kind];
  return async (req, res, ctx) => {
    await deps.guard(req, res, ctx);
    const { bytes, body } = await readJsonBody(req, config.MAX_BODY_BYTES, config.MAX_JSON_DEPTH);
    if (checkCompletionRequest(kind, body)) {
      await relayUpstream(req, res, ctx, deps.relay, { endpoint, method: 'POST', body: bytes });
      return;
    }
    ctx.queued = completer.mode === 'queue';
    const keepalive = new KeepaliveWriter(res, config.NONSTREAM_KEEPALIVE_MS);
    let answer: CompletedAnswer;
    try {
      answer = await completer.complete(
        {
          kind,
          body: streamingBody(body, config.UPSTREAM_INCLUDE_USAGE),
          headers: pickForwardedHeaders(req.headers),
          clientAuthorization: req.headers.authorization,
          requestId: ctx.id,
          timeoutMs: requestTimeoutMs(req.headers, config.REQUEST_TIMEOUT_MS),
        },
        ctx.clientGone,
      );
    } catch (error) {
      if (ctx.left || !keepalive.started) throw error;
      // After the keep-alive status went out, an error can only travel in the body.
      answer = errorAnswer(isProxyError(error) ? error : internalError(ctx.id, error));
    } finally {
      keepalive.stop();
    }
    ctx.upstream = answer.upstream;
    ctx.queueWaitMs = answer.queueWaitMs;
    deps.metrics.countTokens(answer);
    if (keepalive.started) {
      ctx.answerStatus = answer.status;
      res.end(answer.body);
      return;
    }
    for (const name in answer.headers) res.setHeader(name, answer.headers[name] ?? '');
    writeJson(res, answer.status, answer.body);
  };
}

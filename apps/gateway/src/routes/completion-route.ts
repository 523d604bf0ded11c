import {
  type CompletionApi,
  checkRequest,
  errorAnswer,
  errors,
  foldBody,
  internalError,
  isProxyError,
  pickForwardedHeaders,
  streamBodyFor,
  workClassOf,
} from '@openai-proxy/shared';
import { createBackgroundResponse } from '../background/background-routes.js';
import type { CompletedAnswer } from '../completion/non-stream-completer.js';
import { answerInClientTerms, errorInClientTerms, requestDeadline } from '../pipeline/client-deadline.js';
import { readJsonBody } from '../pipeline/json-body.js';
import type { RouteHandler } from '../pipeline/request-door.js';
import { writeJson } from '../pipeline/write-json.js';
import { KeepaliveWriter } from '../relay/keepalive-writer.js';
import { clientCredential, relayUpstream } from '../relay/upstream-relay.js';
import type { RouteDeps } from './route-deps.js';

/**
 * `POST` on an API's path (`/v1/chat/completions`, `/v1/completions`, `/v1/responses`,
 * `/v1/messages`), the whole way of a request (what differs between the APIs is its descriptor):
 * the `/v1` guard, one reading of the JSON body, the fields the proxy relies on, the group of
 * upstreams serving its model (none: 404 `model_not_found`, before any upstream or the queue), then
 * - `stream: true`: the client's bytes go to an upstream and its stream is piped back as is
 *   (re-serialised only for an upstream that knows the model by an alias or takes no
 *   `stream_options`);
 * - otherwise: the body, serialised once, is folded from an upstream stream (through the queue,
 *   or in this process) and the answer is written as one JSON.
 */
export function completionRoute(api: CompletionApi, deps: RouteDeps): RouteHandler {
  const { config, completer } = deps;
  const { kind, endpoint, keyHeader, errorDialect } = api;
  return async (req, res, ctx) => {
    await deps.guard(req, res, ctx);
    const { bytes, body } = await readJsonBody(req, config.MAX_BODY_BYTES, config.MAX_JSON_DEPTH);
    const stream = checkRequest(api, body);
    const model = body.model as string;
    // Queue mode too: a model no upstream serves is refused here, never queued.
    const group = deps.relay.upstreams.groupFor(model);
    if (group === undefined) throw errors.modelNotFound(model);
    ctx.group = group.label;
    if (api.backgroundMode === true && body.background === true) {
      await createBackgroundResponse(req, res, ctx, deps, api, body, stream);
      return;
    }
    if (stream) {
      await relayUpstream(req, res, ctx, deps.relay, {
        endpoint,
        method: 'POST',
        body: bytes,
        bodyFor: (upstream) => streamBodyFor(api, body, bytes, upstream),
        keyHeader,
        group,
        model,
      });
      return;
    }
    ctx.queued = completer.mode === 'queue';
    const keepalive = new KeepaliveWriter(res, config.NONSTREAM_KEEPALIVE_MS);
    const deadline = requestDeadline(req.headers, config.REQUEST_TIMEOUT_MS);
    let answer: CompletedAnswer;
    try {
      const credential = clientCredential(req, keyHeader);
      answer = await completer.complete(
        api,
        {
          kind,
          body: foldBody(body),
          headers: pickForwardedHeaders(req.headers),
          ...(credential === undefined ? {} : { credential }),
          requestId: ctx.id,
        },
        deadline.ms,
        ctx,
        {
          // Who asked, only when each client's share is capped: `req.ip` is not free.
          ...(config.KEY_MAX_QUEUED > 0 ? { client: clientId(ctx.clientKeyDigest, req.ip) } : {}),
          workClass: workClassOf(body),
        },
      );
      answer = answerInClientTerms(deadline, answer, errorDialect);
    } catch (thrown) {
      const error = errorInClientTerms(deadline, thrown);
      if (ctx.left || !keepalive.started) throw error;
      // After the keep-alive status went out, an error can only travel in the body.
      answer = errorAnswer(isProxyError(error) ? error : internalError(ctx.id, error), null, errorDialect);
    } finally {
      keepalive.stop();
    }
    ctx.upstream = answer.upstream;
    ctx.queueWaitMs = answer.queueWaitMs;
    deps.metrics.countTokens(answer);
    // Queue mode: the worker logs these (they do not travel back with the answer).
    if (answer.mismatches !== undefined && answer.mismatches.length > 0)
      deps.logger.warn(
        { requestId: ctx.id, upstream: answer.upstream, mismatches: answer.mismatches },
        "the upstream's final response disagrees with its stream; answered with the final one",
      );
    if (keepalive.started) {
      ctx.answerStatus = answer.status;
      res.end(answer.body);
      return;
    }
    for (const name in answer.headers) res.setHeader(name, answer.headers[name] ?? '');
    writeJson(res, answer.status, answer.body);
  };
}

/** A client as its share of the queue counts it: its key's digest, or its address without one. */
function clientId(keyDigest: string | undefined, ip: string | undefined): string {
  return keyDigest === undefined ? `ip:${ip ?? 'unknown'}` : `key:${keyDigest}`;
}

import {
  ClientGoneError,
  type CompletionKind,
  internalErrorBody,
  isProxyError,
  pickForwardedHeaders,
} from '@openai-proxy/shared';
import type { RequestHandler } from 'express';
import { KeepaliveWriter } from '../relay/keepalive-writer.js';
import type { CompletedAnswer } from '../relay/non-stream-completer.js';
import { relayUpstream } from '../relay/upstream-relay.js';
import type { RouteDeps } from './route-deps.js';

const ENDPOINTS: Record<CompletionKind, string> = { chat: '/chat/completions', completion: '/completions' };

/**
 * The two ways a completion request goes: `stream: true` is piped from an upstream as is;
 * anything else is folded from an upstream stream (queue or in-process) and sent as one JSON.
 */
export function completionHandler(kind: CompletionKind, deps: RouteDeps): RequestHandler {
  const route = `/v1${ENDPOINTS[kind]}`;
  return async (req, res) => {
    res.locals.route = route;
    const body = req.body as Record<string, unknown>;
    if (body.stream === true) {
      await relayUpstream(req, res, deps.relay, {
        endpoint: ENDPOINTS[kind],
        method: 'POST',
        body: res.locals.rawBody,
      });
      return;
    }
    const clientGone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) clientGone.abort(new ClientGoneError());
    });
    // For the access log: time these as queued requests (openai_proxy_queued_request_duration_seconds).
    res.locals.queued = deps.completer.mode === 'queue';
    const keepalive = new KeepaliveWriter(res, deps.config.NONSTREAM_KEEPALIVE_MS);
    let answer: Awaited<ReturnType<typeof deps.completer.complete>>;
    try {
      answer = await deps.completer.complete(
        {
          kind,
          body,
          headers: pickForwardedHeaders(req.headers),
          clientAuthorization: req.headers.authorization,
          requestId: String(res.locals.requestId),
        },
        clientGone.signal,
      );
    } catch (error) {
      if (clientGone.signal.aborted) return;
      if (!keepalive.started) throw error;
      answer = errorAsAnswer(error, String(res.locals.requestId));
    } finally {
      keepalive.stop();
    }
    res.locals.upstream = answer.upstream;
    res.locals.queueWaitMs = answer.queueWaitMs;
    deps.metrics.countTokens(answer);
    if (keepalive.started) {
      res.locals.answerStatus = answer.status;
      res.end(answer.body);
      return;
    }
    res.status(answer.status).type('application/json').send(answer.body);
  };
}

/** After the keep-alive status went out, an error can only be written into the body. */
function errorAsAnswer(error: unknown, requestId: string): CompletedAnswer {
  if (isProxyError(error)) return { status: error.status, body: JSON.stringify(error.toBody()) };
  return { status: 500, body: JSON.stringify(internalErrorBody(requestId)) };
}

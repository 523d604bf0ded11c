import {
  asProxyError,
  ClientGoneError,
  failureDetail,
  isProxyError,
  type Logger,
} from '@openai-proxy/shared';
import type { Request, Response } from 'express';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import { rejectionReason } from '../observability/rejection-reason.js';
import { discardRefusedBody } from './discard-refused-body.js';
import type { RequestContext } from './request-context.js';
import { writeJson } from './write-json.js';

/**
 * The one place an error becomes a response: a ProxyError with its status, code and
 * Retry-After; anything else a 500 with the request id, logged once with its stack. An upstream
 * failure's own words (they may name internal addresses) go to the log, not to the client. The body
 * takes the route's dialect (`ctx.errorDialect`): OpenAI's shape, or Anthropic's on /v1/messages.
 * A 4xx the proxy raised itself is a request refused before any upstream saw it,
 * and is counted so. A client that already left gets nothing.
 */
export function sendError(
  req: Request,
  res: Response,
  ctx: RequestContext,
  error: unknown,
  deps: { logger: Logger; metrics: GatewayMetrics },
): void {
  if (ctx.left || error instanceof ClientGoneError) return;
  if (res.headersSent) {
    // A bug of ours (not a ProxyError) is logged as one, with its stack, even though no 500 can go out.
    const level = isProxyError(error) ? 'warn' : 'error';
    deps.logger[level]({ err: error, requestId: ctx.id }, 'error after the response started; closing it');
    res.destroy();
    return;
  }
  const proxyError = asProxyError(error, ctx.id);
  if (proxyError.code === 'internal_error') {
    deps.logger.error({ err: error, requestId: ctx.id }, 'unexpected error');
  } else if (proxyError.status >= 400 && proxyError.status < 500) {
    deps.metrics.rejected.inc({ reason: rejectionReason(proxyError.status) });
  } else if (proxyError.type === 'upstream_error' && proxyError.cause !== undefined) {
    deps.logger.warn(
      { requestId: ctx.id, code: proxyError.code, failure: failureDetail(proxyError) },
      'upstream failed',
    );
  }
  // Answered before its body was read (too large, wrong type, no key): the rest is read and
  // thrown away, within bounds, so the client can read this answer (see discard-refused-body.ts).
  if (!req.complete && hasBody(req)) discardRefusedBody(req);
  if (proxyError.retryAfterSeconds !== undefined)
    res.setHeader('retry-after', String(proxyError.retryAfterSeconds));
  writeJson(res, proxyError.status, ctx.errorDialect.errorBody(proxyError));
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

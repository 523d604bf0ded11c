import { asProxyError, ClientGoneError, errorBodyIn, type Logger } from '@openai-proxy/shared';
import type { Request, Response } from 'express';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import { rejectionReason } from '../observability/rejection-reason.js';
import { discardRefusedBody } from './discard-refused-body.js';
import type { RequestContext } from './request-context.js';
import { writeJson } from './write-json.js';

/**
 * The one place an error becomes a response: a ProxyError with its status, code and
 * Retry-After; anything else a 500 with the request id, logged once with its stack. The body
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
    deps.logger.warn({ err: error, requestId: ctx.id }, 'error after the response started; closing it');
    res.destroy();
    return;
  }
  const proxyError = asProxyError(error, ctx.id);
  if (proxyError.code === 'internal_error') {
    deps.logger.error({ err: error, requestId: ctx.id }, 'unexpected error');
  } else if (proxyError.status >= 400 && proxyError.status < 500) {
    deps.metrics.rejected.inc({ reason: rejectionReason(proxyError.status) });
  }
  // Answered before its body was read (too large, wrong type, no key): the rest is read and
  // thrown away, within bounds, so the client can read this answer (see discard-refused-body.ts).
  if (!req.complete && hasBody(req)) discardRefusedBody(req);
  if (proxyError.retryAfterSeconds !== undefined)
    res.setHeader('retry-after', String(proxyError.retryAfterSeconds));
  writeJson(res, proxyError.status, errorBodyIn(ctx.errorDialect, proxyError));
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

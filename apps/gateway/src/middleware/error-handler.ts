import type { IncomingHttpHeaders } from 'node:http';
import {
  type GatewayMetrics,
  internalErrorBody,
  isProxyError,
  type Logger,
  ProxyError,
} from '@openai-proxy/shared';
import type { ErrorRequestHandler } from 'express';

/** Errors raised by Express's own body reader, as `http-errors` shapes them. */
function fromBodyReader(error: unknown): ProxyError | undefined {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (type === 'entity.too.large') {
    return new ProxyError('The request body is larger than the proxy accepts.', {
      status: 413,
      code: 'request_too_large',
      type: 'invalid_request_error',
    });
  }
  if (typeof status === 'number' && status >= 400 && status < 500 && typeof type === 'string') {
    return new ProxyError(`The request body could not be read (${type}).`, {
      status,
      code: 'invalid_body',
      type: 'invalid_request_error',
    });
  }
  return undefined;
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

/** The bounded `reason` label of `openai_proxy_rejected_requests_total` for a refusal's status. */
const REJECTION_REASONS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  408: 'timeout',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
};

export function rejectionReason(status: number): string {
  return REJECTION_REASONS[status] ?? 'other';
}

/**
 * The one place errors become responses: ProxyErrors with their status and code, everything
 * else a 500 in OpenAI's shape with the request id, logged once with its stack. A 4xx the
 * proxy raised itself is a request refused before any upstream saw it, and is counted so.
 */
export function errorHandler(logger: Logger, metrics: GatewayMetrics): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const known = isProxyError(error) ? error : fromBodyReader(error);
    const requestId = String(res.locals.requestId ?? 'unknown');
    if (res.headersSent) {
      logger.warn({ err: error, requestId }, 'error after the response started; closing it');
      res.destroy();
      return;
    }
    // Answered before its body was read (too large, wrong type, no key): close the connection
    // rather than let Node read and discard a body of any size to keep it alive.
    if (!req.complete && hasBody(req.headers)) res.setHeader('connection', 'close');
    if (known) {
      if (known.status >= 400 && known.status < 500)
        metrics.rejected.inc({ reason: rejectionReason(known.status) });
      if (known.retryAfterSeconds !== undefined)
        res.setHeader('retry-after', String(known.retryAfterSeconds));
      res.status(known.status).json(known.toBody());
      return;
    }
    logger.error({ err: error, requestId }, 'unexpected error');
    res.status(500).json(internalErrorBody(requestId));
  };
}

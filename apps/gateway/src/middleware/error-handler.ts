import { internalErrorBody, isProxyError, type Logger, ProxyError } from '@openai-proxy/shared';
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

/**
 * The one place errors become responses: ProxyErrors with their status and code, everything
 * else a 500 in OpenAI's shape with the request id, logged once with its stack.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const known = isProxyError(error) ? error : fromBodyReader(error);
    const requestId = String(res.locals.requestId ?? 'unknown');
    if (res.headersSent) {
      logger.warn({ err: error, requestId }, 'error after the response started; closing it');
      res.destroy();
      return;
    }
    if (known) {
      if (known.retryAfterSeconds !== undefined)
        res.setHeader('retry-after', String(known.retryAfterSeconds));
      res.status(known.status).json(known.toBody());
      return;
    }
    logger.error({ err: error, requestId }, 'unexpected error');
    res.status(500).json(internalErrorBody(requestId));
  };
}

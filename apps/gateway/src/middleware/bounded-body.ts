import { errors, ProxyError } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';
import getRawBody from 'raw-body';

/** The 413 every size check answers with. */
export function tooLarge(limitBytes: number): ProxyError {
  return new ProxyError(`The request body is larger than the ${limitBytes} bytes the proxy accepts.`, {
    status: 413,
    code: 'request_too_large',
    type: 'invalid_request_error',
  });
}

/**
 * Refuses a request whose `Content-Length` already says it is too large, before a byte of its
 * body is read. Mounted in front of every `/v1` route, pass-through included.
 */
export function declaredLengthLimit(limitBytes: number): RequestHandler {
  return (req, _res, next) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    next(declared > limitBytes ? tooLarge(limitBytes) : undefined);
  };
}

/**
 * Reads the body into `req.body` as bytes, at most `limitBytes` of them. Unlike `express.raw`,
 * which reads an oversized body to its end before answering, this stops at the limit and
 * answers 413 at once (the error handler then closes the connection rather than read the
 * rest). Compressed bodies are refused: the limit must bound what the proxy holds in memory.
 */
export function boundedBody(limitBytes: number): RequestHandler {
  return async (req, _res, next) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') {
      next(
        new ProxyError('Compressed request bodies (Content-Encoding) are not accepted.', {
          status: 415,
          code: 'unsupported_content_encoding',
          type: 'invalid_request_error',
        }),
      );
      return;
    }
    const declared = req.headers['content-length'];
    try {
      req.body = await getRawBody(req, {
        limit: limitBytes,
        ...(declared === undefined ? {} : { length: declared }),
      });
      next();
    } catch (error) {
      const type = (error as { type?: unknown } | null)?.type;
      if (type === 'entity.too.large') next(tooLarge(limitBytes));
      // The client left (or was cut off by the request timeout): nobody to answer.
      else if (type === 'request.aborted' || req.socket.destroyed) return;
      else next(errors.badRequest('The request body could not be read.', null, 'invalid_body'));
    }
  };
}

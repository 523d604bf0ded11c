import { errors, ProxyError } from '@openai-proxy/shared';
import express, { type RequestHandler } from 'express';

/**
 * Reads the body as bytes (bounded by `limitBytes`, refused with 413 before it is all read),
 * requires a JSON content type (415) and a JSON object (400). The raw bytes stay on
 * `res.locals.rawBody` so a pass-through forwards them without serialising again.
 */
export function jsonBody(limitBytes: number): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit: limitBytes });
  const parse: RequestHandler = (req, res, next) => {
    const contentType = req.headers['content-type'] ?? '';
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)) {
      next(
        new ProxyError('Content-Type must be application/json.', {
          status: 415,
          code: 'unsupported_media_type',
          type: 'invalid_request_error',
        }),
      );
      return;
    }
    const bytes: unknown = req.body;
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) {
      next(errors.badRequest('The request body is empty; a JSON object is required.', null, 'invalid_json'));
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      next(
        errors.badRequest(
          `The request body is not valid JSON: ${error instanceof Error ? error.message : 'parse error'}.`,
          null,
          'invalid_json',
        ),
      );
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      next(errors.badRequest('The request body must be a JSON object.', null, 'invalid_json'));
      return;
    }
    res.locals.rawBody = bytes;
    req.body = parsed;
    next();
  };
  return [raw, parse];
}

import { errors, ProxyError } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';
import { exceedsJsonDepth } from '../security/json-depth.js';
import { boundedBody } from './bounded-body.js';

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json[ \t]*(?:;|$)/i;
const CHARSET = /;[ \t]*charset[ \t]*=[ \t]*"?([^";\s]*)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const unsupported = (message: string, code: string) =>
  new ProxyError(message, { status: 415, code, type: 'invalid_request_error' });

/** 415 unless the body is declared as JSON in UTF-8 (RFC 8259 allows no other charset). */
const requireJsonType: RequestHandler = (req, _res, next) => {
  const contentType = req.headers['content-type'] ?? '';
  if (!JSON_TYPE.test(contentType)) {
    next(unsupported('Content-Type must be application/json.', 'unsupported_media_type'));
    return;
  }
  const charset = CHARSET.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    next(unsupported('JSON bodies must be UTF-8.', 'unsupported_charset'));
    return;
  }
  next();
};

/** 400 unless the bytes are UTF-8 text holding one JSON object no deeper than `maxDepth`. */
function parseJsonObject(maxDepth: number): RequestHandler {
  return (req, res, next) => {
    const bytes: unknown = req.body;
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) {
      next(errors.badRequest('The request body is empty; a JSON object is required.', null, 'invalid_json'));
      return;
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      next(errors.badRequest('The request body is not valid UTF-8.', null, 'invalid_json'));
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // V8's message quotes the input; an error message must not echo what the client sent.
      next(errors.badRequest('The request body is not valid JSON.', null, 'invalid_json'));
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      next(errors.badRequest('The request body must be a JSON object.', null, 'invalid_type'));
      return;
    }
    if (exceedsJsonDepth(parsed, maxDepth)) {
      next(
        errors.badRequest(`The request body nests deeper than ${maxDepth} levels.`, null, 'json_too_deep'),
      );
      return;
    }
    res.locals.rawBody = bytes;
    req.body = parsed;
    next();
  };
}

/**
 * The body of a completion request: JSON content type first (415, nothing read), then at most
 * `maxBytes` read (413 at the limit), then one JSON object (400). The raw bytes stay on
 * `res.locals.rawBody` so a stream request forwards them without serialising again.
 */
export function jsonBody(maxBytes: number, maxDepth: number): RequestHandler[] {
  return [requireJsonType, boundedBody(maxBytes), parseJsonObject(maxDepth)];
}

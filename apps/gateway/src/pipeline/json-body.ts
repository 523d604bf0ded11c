import { errors, ProxyError } from '@openai-proxy/shared';
import type { Request } from 'express';
import { exceedsJsonDepth } from '../security/json-depth.js';
import { readBody } from './read-body.js';

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json[ \t]*(?:;|$)/i;
const CHARSET = /;[ \t]*charset[ \t]*=[ \t]*"?([^";\s]*)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface JsonBody {
  /** The bytes as the upstream gets them when they are forwarded untouched (no byte-order mark). */
  bytes: Buffer;
  /** The same bytes parsed: one JSON object. */
  body: Record<string, unknown>;
}

/** A UTF-8 byte-order mark: some clients write one; JSON parsers upstream may refuse it. */
function withoutBom(bytes: Buffer): Buffer {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.subarray(3)
    : bytes;
}

/**
 * The one reading of a completion request's body, in order of cost: a JSON content type in
 * UTF-8 (415, nothing read), at most `maxBytes` read (413 at the limit), a byte-order mark
 * dropped, then UTF-8 text no deeper than `maxDepth` holding one JSON object (400). Both the
 * parsed object and the bytes come back, so a stream request forwards the bytes unserialised.
 */
export async function readJsonBody(req: Request, maxBytes: number, maxDepth: number): Promise<JsonBody> {
  const contentType = req.headers['content-type'] ?? '';
  if (!JSON_TYPE.test(contentType))
    throw new ProxyError('unsupported_media_type', 'Content-Type must be application/json.');
  const charset = CHARSET.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    throw new ProxyError('unsupported_charset', 'JSON bodies must be UTF-8.');
  const bytes = withoutBom(await readBody(req, maxBytes));
  if (bytes.length === 0)
    throw errors.badRequest('The request body is empty; a JSON object is required.', null, 'invalid_json');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw errors.badRequest('The request body is not valid UTF-8.', null, 'invalid_json');
  }
  if (exceedsJsonDepth(bytes, maxDepth))
    throw errors.badRequest(`The request body nests deeper than ${maxDepth} levels.`, null, 'json_too_deep');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // V8's message quotes the input; an error message must not echo what the client sent.
    throw errors.badRequest('The request body is not valid JSON.', null, 'invalid_json');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw errors.badRequest('The request body must be a JSON object.', null, 'invalid_type');
  return { bytes, body: parsed as Record<string, unknown> };
}

import { ClientGoneError, errors, ProxyError } from '@openai-proxy/shared';
import type { Request } from 'express';
import getRawBody from 'raw-body';

/** The 413 every size check answers with. */
export function tooLarge(limitBytes: number): ProxyError {
  return new ProxyError(
    'request_too_large',
    `The request body is larger than the ${limitBytes} bytes the proxy accepts.`,
  );
}

/**
 * Reads the body as bytes, at most `limitBytes` of them. Unlike `express.raw`, which reads an
 * oversized body to its end before answering, this stops at the limit and answers 413 at once
 * (the connection is then closed rather than the rest read). Compressed bodies are refused:
 * the limit must bound what the proxy holds in memory. A client that leaves meanwhile gets
 * nothing (ClientGoneError).
 */
export async function readBody(req: Request, limitBytes: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    throw new ProxyError(
      'unsupported_content_encoding',
      'Compressed request bodies (Content-Encoding) are not accepted.',
    );
  }
  const declared = req.headers['content-length'];
  try {
    return await getRawBody(req, {
      limit: limitBytes,
      ...(declared === undefined ? {} : { length: declared }),
    });
  } catch (error) {
    const type = (error as { type?: unknown } | null)?.type;
    if (type === 'entity.too.large') throw tooLarge(limitBytes);
    // The client left (or was cut off by the request timeout): nobody to answer.
    if (type === 'request.aborted' || req.socket.destroyed) throw new ClientGoneError();
    throw errors.badRequest('The request body could not be read.', null, 'invalid_body');
  }
}

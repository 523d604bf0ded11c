import { isProxyError } from '../fold/errors.js';

/**
 * Which errors count against an upstream, and how one is told to a client without the internals.
 *
 * Only a failure of the call itself is the upstream's: a network error (Node's system codes), an
 * undici error about the connection or the response, a malformed HTTP response, a TLS failure,
 * or the proxy's own verdict on the stream (a ProxyError: truncated, malformed, timed out). Any
 * other error thrown on the way is a bug of the proxy: an upstream is never cooled down, retried
 * or blamed for it, and the client gets a 500 `internal_error` (see `asProxyError`).
 */

/** Failed connections, lookups and responses (Node's system codes, undici's), in words a client may read. */
const NETWORK_FAILURES: ReadonlyMap<string, string> = new Map([
  ['ECONNREFUSED', 'connection refused'],
  ['ECONNRESET', 'connection reset'],
  ['ECONNABORTED', 'connection aborted'],
  ['EPIPE', 'connection closed while sending'],
  ['ETIMEDOUT', 'connection timed out'],
  ['EHOSTUNREACH', 'host unreachable'],
  ['EHOSTDOWN', 'host down'],
  ['ENETUNREACH', 'network unreachable'],
  ['ENETDOWN', 'network down'],
  ['ENETRESET', 'connection reset by the network'],
  ['EADDRNOTAVAIL', 'address not available'],
  ['ENOTFOUND', 'host name not found'],
  ['EAI_AGAIN', 'host name lookup failed for now'],
  ['EAI_FAIL', 'host name lookup failed'],
  ['EPROTO', 'protocol error'],
  ['UND_ERR_SOCKET', 'the connection closed unexpectedly'],
  ['UND_ERR_CLOSED', 'the connection pool was closed'],
  ['UND_ERR_DESTROYED', 'the connection pool was closed'],
  ['UND_ERR_HEADERS_OVERFLOW', 'response headers too large'],
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'response body length differs from its content-length'],
]);

/** undici codes that mean the proxy called undici wrongly: ours, however they surface. */
const UNDICI_MISUSE = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_INVALID_RETURN_VALUE',
  'UND_ERR_NOT_SUPPORTED',
]);

/** OpenSSL's certificate verdicts, which Node gives as codes of their own. */
const TLS_CERTIFICATE_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'HOSTNAME_MISMATCH',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** undici's HTTPParserError, a response that is not HTTP: its `code` (`HPE_*`) is often unset. */
function isMalformedResponse(error: unknown, code: string | undefined): boolean {
  return (code?.startsWith('HPE_') ?? false) || (error instanceof Error && error.name === 'HTTPParserError');
}

function isTlsFailure(code: string): boolean {
  return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || TLS_CERTIFICATE_CODES.has(code);
}

/** True when `error` is the upstream call's failure; false when it is a bug of the proxy. */
export function isUpstreamFailure(error: unknown): boolean {
  if (isProxyError(error)) return error.code !== 'internal_error';
  const code = codeOf(error);
  if (isMalformedResponse(error, code)) return true;
  if (code === undefined) return false;
  if (code.startsWith('UND_ERR')) return !UNDICI_MISUSE.has(code);
  return NETWORK_FAILURES.has(code) || isTlsFailure(code);
}

/**
 * An upstream failure as a client may read it: its kind and code, never the error's own message,
 * which names internal addresses (`connect ECONNREFUSED 10.0.3.7:8000`).
 */
export function failureKind(error: unknown): string {
  const code = codeOf(error);
  if (isMalformedResponse(error, code))
    return code === undefined ? 'malformed HTTP response' : `malformed HTTP response, ${code}`;
  if (code === undefined) return 'unknown failure';
  const words = NETWORK_FAILURES.get(code) ?? (isTlsFailure(code) ? 'TLS failure' : undefined);
  return words === undefined ? code : `${words}, ${code}`;
}

/**
 * What went wrong in the error's own words, for the log only: the message of the original error
 * (a ProxyError's `cause`), addresses included; the client got `failureKind`.
 */
export function failureDetail(error: unknown): string {
  const original = isProxyError(error) && error.cause !== undefined ? error.cause : error;
  if (original instanceof AggregateError && original.errors.length > 0)
    return original.errors.map(failureDetail).join('; ');
  if (original instanceof Error) {
    const code = codeOf(original);
    return code === undefined || original.message.includes(code)
      ? original.message
      : `${original.message} (${code})`;
  }
  return String(original);
}

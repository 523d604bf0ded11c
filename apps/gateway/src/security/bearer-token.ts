import { type KeyHeader, ProxyError } from '@openai-proxy/shared';

/** The key in `Authorization: Bearer <key>` (what OpenAI's SDKs send), or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  return match?.[1];
}

/**
 * The 401 of a request that presents no key the gateway can read. A key sent bare
 * (`Authorization: sk-…`, a common slip when a client is written by hand) did arrive: the
 * answer says how to write the header rather than that no key was sent. Never repeats the header.
 */
export function missingKeyError(authorization: string | undefined, keyHeader: KeyHeader): ProxyError {
  const xApiKey = keyHeader === 'x-api-key';
  if (authorization !== undefined && authorization.trim() !== '')
    return new ProxyError(
      'missing_api_key',
      `The Authorization header must be 'Authorization: Bearer <key>' (the word Bearer, a space, then the key)${xApiKey ? ", or send the key as 'x-api-key: <key>'" : ''}.`,
    );
  return new ProxyError(
    'missing_api_key',
    xApiKey
      ? "You didn't provide an API key. Send it as 'x-api-key: <key>' or 'Authorization: Bearer <key>'."
      : "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
  );
}

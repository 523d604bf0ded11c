import cors from 'cors';
import type { RequestHandler } from 'express';

/** Headers a browser app may read from an answer: the ones OpenAI's SDKs and retries look at. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'retry-after-ms',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-ratelimit-limit-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-requests',
  'x-ratelimit-reset-tokens',
  'openai-processing-ms',
  'x-openai-proxy-keepalive',
];

/**
 * Opt-in CORS for browser apps: only the exact origins in CORS_ORIGINS get the
 * `Access-Control-Allow-*` headers; a preflight is answered here (204) and never reaches an
 * upstream. Undefined when no origin is configured: the proxy then sends no CORS header at all.
 */
export function corsPolicy(origins: readonly string[]): RequestHandler | undefined {
  if (origins.length === 0) return undefined;
  return cors({
    origin: [...origins],
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
}

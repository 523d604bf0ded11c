import { ProxyError } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';
import type { LimitDecision, RequestLimiter } from '../security/request-limiter.js';

function setLimitHeaders(
  res: Parameters<RequestHandler>[1],
  decision: LimitDecision,
  resetSeconds: number,
): void {
  res.setHeader('x-ratelimit-limit', String(decision.limit));
  res.setHeader('x-ratelimit-remaining', String(decision.remaining));
  res.setHeader('x-ratelimit-reset', String(resetSeconds));
}

/**
 * Counts each request against its client's allowance: the digest of the key it presented
 * (set by `accessKeys`), or its IP when it sent none. Every answer carries `x-ratelimit-limit`,
 * `-remaining` and `-reset` (seconds); past the limit, 429 with `Retry-After`. The names differ
 * from OpenAI's `x-ratelimit-*-requests`, which an upstream may send and the proxy relays.
 */
export function rateLimit(limiter: RequestLimiter): RequestHandler {
  return async (req, res, next) => {
    const digest: unknown = res.locals.clientKeyDigest;
    const clientId = typeof digest === 'string' ? `key:${digest}` : `ip:${req.ip ?? 'unknown'}`;
    const decision = await limiter.consume(clientId);
    const resetSeconds = Math.max(1, Math.ceil(decision.resetMs / 1000));
    setLimitHeaders(res, decision, resetSeconds);
    if (decision.allowed) {
      next();
      return;
    }
    next(
      new ProxyError(
        `Rate limit reached: ${decision.limit} requests per window. Try again in ${resetSeconds} s.`,
        {
          status: 429,
          code: 'rate_limit_exceeded',
          type: 'rate_limit_error',
          retryAfterSeconds: resetSeconds,
        },
      ),
    );
  };
}

import { errors, type KeyHeader, ProxyError } from '@openai-proxy/shared';
import type { Request, Response } from 'express';
import type { GatewayConfig } from '../config.js';
import { AccessKeySet, keyDigest } from '../security/access-key-set.js';
import { bearerToken, missingKeyError } from '../security/bearer-token.js';
import type { RequestLimiter } from '../security/request-limiter.js';
import { tooLarge } from './read-body.js';
import type { RequestContext } from './request-context.js';

/** `..` or `.` as a path segment, also percent-encoded (`%2e`) or with a backslash for a slash. */
const DOT_SEGMENT = /(?:^|[/\\])(?:\.|%2e){1,2}(?:[/\\?#]|$)/i;
/** A `%` that does not start a percent-escape (`%zz`, a `%` at the end): no upstream could read it. */
const BROKEN_ESCAPE = /%(?![0-9a-f]{2})/i;

export type Guard = (req: Request, res: Response, ctx: RequestContext) => Promise<void> | void;

/**
 * The checks every `/v1` request passes before its body is read or an upstream is picked, in
 * order of cost, built once from the configuration so a request runs only what is on:
 * 1. a target that stays below the configured upstream's `/v1`: no absolute form
 *    (`GET http://other-host/v1/...`), no dot segments that would climb out of it, no broken
 *    percent-escape (the path is passed on as written, never decoded here);
 * 2. a declared size within `MAX_BODY_BYTES` (413 before a byte of the body is read);
 * 3. with `GATEWAY_API_KEYS`, one of them as `Authorization: Bearer <key>`, or, on a route whose
 *    API takes `x-api-key` (Anthropic's /v1/messages: its docs and SDKs before 1.x send keys
 *    there), as `x-api-key: <key>` (401 otherwise; the message never repeats what was sent). Once upstream
 *    calls use server-side keys (`GATEWAY_API_KEYS` or `UPSTREAM_API_KEY`), the client's key
 *    headers are removed here, so they reach neither an upstream nor a job in Redis; otherwise
 *    they pass on, as in the original tool;
 * 4. with a rate limit, the client's allowance: the digest of the key it presented, else its IP.
 */
export function createGuard(
  config: Pick<GatewayConfig, 'MAX_BODY_BYTES' | 'GATEWAY_API_KEYS' | 'UPSTREAM_API_KEY' | 'KEY_MAX_QUEUED'>,
  limiter: RequestLimiter | undefined,
  keyHeader: KeyHeader = 'authorization',
): Guard {
  const keys = new AccessKeySet(config.GATEWAY_API_KEYS);
  const serverSideKeys = keys.size > 0 || config.UPSTREAM_API_KEY.length > 0;
  const checkKey = serverSideKeys || limiter !== undefined;
  const limit = limiter === undefined ? undefined : rateLimit(limiter);
  return (req, res, ctx) => {
    const target = req.originalUrl;
    const query = target.indexOf('?');
    const path = query < 0 ? target : target.slice(0, query);
    if (
      !target.startsWith('/') ||
      target.startsWith('//') ||
      DOT_SEGMENT.test(path) ||
      BROKEN_ESCAPE.test(path)
    )
      throw errors.badRequest('The request path is not allowed.', null, 'invalid_path');
    if (Number(req.headers['content-length'] ?? 0) > config.MAX_BODY_BYTES)
      throw tooLarge(config.MAX_BODY_BYTES);
    if (checkKey) {
      const authorization = req.headers.authorization;
      const presented = bearerToken(authorization) ?? otherKey(req, keyHeader);
      // Who the client is, for its rate limit, its share of the queue (KEY_MAX_QUEUED) and, with
      // gateway keys, whose background responses, files and batches it may see.
      if (keys.size > 0) {
        if (presented === undefined) throw missingKeyError(authorization, keyHeader);
        // Hashed once: the digest checks the key and then names its owner.
        const digest = keyDigest(presented);
        if (!keys.matchesDigest(digest))
          throw new ProxyError('invalid_api_key', 'Incorrect API key provided.');
        ctx.clientKeyDigest = digest.toString('hex');
      } else {
        const credential = presented ?? authorization;
        if ((limit !== undefined || config.KEY_MAX_QUEUED > 0) && credential !== undefined)
          ctx.clientKeyDigest = keyDigest(credential).toString('hex');
      }
      if (serverSideKeys) {
        delete req.headers.authorization;
        delete req.headers['x-api-key'];
      }
    }
    return limit?.(req, res, ctx);
  };
}

/** The key a client sent in `x-api-key`, on a route whose API takes it there. */
function otherKey(req: Request, keyHeader: KeyHeader): string | undefined {
  if (keyHeader !== 'x-api-key') return undefined;
  const value = req.headers['x-api-key'];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Counts the request against its client's allowance. Every answer carries `x-ratelimit-limit`,
 * `-remaining` and `-reset` (seconds); past the limit, 429 with `Retry-After`. The names differ
 * from OpenAI's `x-ratelimit-*-requests`, which an upstream may send and the proxy relays.
 */
function rateLimit(limiter: RequestLimiter): Guard {
  return async (req, res, ctx) => {
    const clientId =
      ctx.clientKeyDigest === undefined ? `ip:${req.ip ?? 'unknown'}` : `key:${ctx.clientKeyDigest}`;
    const decision = await limiter.consume(clientId);
    const resetSeconds = Math.max(1, Math.ceil(decision.resetMs / 1000));
    res.setHeader('x-ratelimit-limit', String(decision.limit));
    res.setHeader('x-ratelimit-remaining', String(decision.remaining));
    res.setHeader('x-ratelimit-reset', String(resetSeconds));
    if (decision.allowed) return;
    throw new ProxyError(
      'rate_limit_exceeded',
      `Rate limit reached: ${decision.limit} requests per window. Try again in ${resetSeconds} s.`,
      { retryAfterSeconds: resetSeconds },
    );
  };
}

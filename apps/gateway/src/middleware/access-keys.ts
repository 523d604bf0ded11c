import type { GatewayConfig } from '@openai-proxy/shared';
import { ProxyError } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';
import { AccessKeySet, keyDigest } from '../security/access-key-set.js';
import { bearerToken } from '../security/bearer-token.js';

const unauthorized = (message: string, code: string) =>
  new ProxyError(message, { status: 401, code, type: 'invalid_request_error' });

/**
 * Decides what becomes of the client's `Authorization`:
 * - with `GATEWAY_API_KEYS`, it must carry one of them (401 otherwise, and the message never
 *   repeats what was sent);
 * - once the upstream calls use server-side keys (`GATEWAY_API_KEYS` or `UPSTREAM_API_KEY`), the
 *   header is removed from the request here, so the client's key reaches neither an upstream nor
 *   a job in Redis;
 * - otherwise it stays and passes on to the upstream, as in the original tool.
 * In every case `res.locals.clientKeyDigest` (hex SHA-256) names the client for the rate limiter.
 */
export function accessKeys(
  config: Pick<GatewayConfig, 'GATEWAY_API_KEYS' | 'UPSTREAM_API_KEY'>,
): RequestHandler {
  const keys = new AccessKeySet(config.GATEWAY_API_KEYS);
  const serverSideKeys = keys.size > 0 || config.UPSTREAM_API_KEY.length > 0;
  return (req, res, next) => {
    const authorization = req.headers.authorization;
    const presented = bearerToken(authorization);
    if (keys.size > 0) {
      if (presented === undefined) {
        next(
          unauthorized(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
            'missing_api_key',
          ),
        );
        return;
      }
      if (!keys.matches(presented)) {
        next(unauthorized('Incorrect API key provided.', 'invalid_api_key'));
        return;
      }
    }
    const credential = presented ?? authorization;
    if (credential !== undefined) res.locals.clientKeyDigest = keyDigest(credential).toString('hex');
    if (serverSideKeys) delete req.headers.authorization;
    next();
  };
}

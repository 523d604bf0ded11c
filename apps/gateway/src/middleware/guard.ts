import type { GatewayConfig } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';
import type { RequestLimiter } from '../security/request-limiter.js';
import { accessKeys } from './access-keys.js';
import { declaredLengthLimit } from './bounded-body.js';
import { rateLimit } from './rate-limit.js';
import { requireSafeTarget } from './request-target.js';

/**
 * The checks every `/v1` request passes before its body is read or an upstream is picked, in
 * order of cost: a target that stays on the configured upstream, a declared size within
 * `MAX_BODY_BYTES`, an access key (when `GATEWAY_API_KEYS` is set), then the rate limit.
 */
export function guardV1(config: GatewayConfig, limiter: RequestLimiter | undefined): RequestHandler[] {
  return [
    requireSafeTarget,
    declaredLengthLimit(config.MAX_BODY_BYTES),
    accessKeys(config),
    ...(limiter === undefined ? [] : [rateLimit(limiter)]),
  ];
}

import type { GatewayConfig } from '../config.js';
import type { RequestContext } from '../pipeline/request-context.js';

/**
 * Whose background responses, files and batches a request may see: the digest of its gateway key
 * (the guard sets it whenever GATEWAY_API_KEYS is), or '' when the gateway has no keys: then
 * anyone who has an id.
 */
export function ownerOf(config: Pick<GatewayConfig, 'GATEWAY_API_KEYS'>, ctx: RequestContext): string {
  return config.GATEWAY_API_KEYS.length > 0 ? (ctx.clientKeyDigest ?? '') : '';
}

import { readUpstreamsFile } from '@openai-proxy/shared';
import type { GatewayConfig } from '../config.js';

type KeySettings = Pick<GatewayConfig, 'GATEWAY_API_KEYS' | 'UPSTREAM_API_KEY' | 'UPSTREAMS_FILE'> &
  Parameters<typeof readUpstreamsFile>[1];

/**
 * With GATEWAY_API_KEYS, a client's key is a key to the gateway: checked, then removed at the
 * door, never passed on. An upstream with no key of its own is then called with none, and every
 * request comes back as the upstream's 401: a valid setup for an upstream that needs no key, a
 * puzzle for everyone else. The warning for the start-up log, or undefined when every upstream
 * has a key (or clients' keys still pass on).
 */
export function keylessUpstreamsWarning(
  config: KeySettings,
  env: Record<string, string | undefined>,
): string | undefined {
  if (config.GATEWAY_API_KEYS.length === 0 || config.UPSTREAM_API_KEY.length > 0) return undefined;
  const notPassedOn = "clients' keys are checked by the gateway and not passed on";
  if (config.UPSTREAMS_FILE === undefined)
    return `GATEWAY_API_KEYS is set and UPSTREAM_API_KEY is not: ${notPassedOn}, so upstream calls carry no key; set UPSTREAM_API_KEY to the upstream's key, unless it needs none`;
  const keyless = readUpstreamsFile(config.UPSTREAMS_FILE, config, env)
    .filter((spec) => spec.apiKey === undefined)
    .map((spec) => new URL(spec.url).host);
  if (keyless.length === 0) return undefined;
  return `GATEWAY_API_KEYS is set and UPSTREAMS_FILE gives no \`key\` to ${keyless.join(', ')}: ${notPassedOn}, so calls to these upstreams carry no key; give each its \`key:\` in the file, unless it needs none`;
}

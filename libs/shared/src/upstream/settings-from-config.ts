import type { UpstreamConfig } from '../config/schema.js';
import type { UpstreamTimeouts } from './call-upstream.js';
import type { NonStreamSettings } from './complete-from-stream.js';

/** The upstream timeouts from configuration, as every caller of an upstream needs them. */
export function upstreamTimeouts(config: UpstreamConfig): UpstreamTimeouts {
  return {
    connectMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    firstByteMs: config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    idleMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
  };
}

/** How non-stream requests call upstreams: the same for workers and standalone gateways. */
export function nonStreamSettings(config: UpstreamConfig): NonStreamSettings {
  return {
    maxTries: config.UPSTREAM_MAX_TRIES,
    streamRetries: config.UPSTREAM_STREAM_RETRIES,
    timeouts: upstreamTimeouts(config),
  };
}

import type { Logger } from '@openai-proxy/shared';
import type { NonStreamCompleter } from '../completion/non-stream-completer.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { Guard } from '../pipeline/guard.js';
import type { RelaySettings } from '../relay/upstream-relay.js';

/** What every route may use; built once in server.ts. */
export interface RouteDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: GatewayMetrics;
  completer: NonStreamCompleter;
  relay: RelaySettings;
  /** The `/v1` checks this configuration turns on (see guard.ts). */
  guard: Guard;
}

import type { GatewayConfig, GatewayMetrics, Logger } from '@openai-proxy/shared';
import type { NonStreamCompleter } from '../relay/non-stream-completer.js';
import type { RelaySettings } from '../relay/upstream-relay.js';

/** What every route may use; built once in server.ts. */
export interface RouteDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: GatewayMetrics;
  completer: NonStreamCompleter;
  relay: RelaySettings;
}

/** The gateway as a library, for in-process tests and embedding; `main.ts` is the process. */

export type { CompletedAnswer, NonStreamCompleter } from './completion/non-stream-completer.js';
export { type GatewayConfig, gatewaySchema, gatewayVars, loadGatewayConfig } from './config.js';
export { type RunningGateway, startGateway } from './gateway.js';
export { createGatewayMetrics, type GatewayMetrics } from './observability/gateway-metrics.js';
export { createRequestLimiter, type LimitDecision, type RequestLimiter } from './security/request-limiter.js';
export { createServer, type GatewayDeps } from './server.js';

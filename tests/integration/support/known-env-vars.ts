import { gatewayVars } from '@openai-proxy/gateway';
import { workerVars } from '@openai-proxy/worker';

/** Every variable either app reads: what the READMEs document and deploy files may set. */
export const knownEnvVars: readonly string[] = [
  ...new Set([...Object.keys(gatewayVars), ...Object.keys(workerVars)]),
].sort();

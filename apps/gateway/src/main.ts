import cluster from 'node:cluster';
import {
  ConfigError,
  createLogger,
  type GatewayConfig,
  installProcessPolicy,
  loadGatewayConfig,
  onShutdownSignal,
  runClusterPrimary,
} from '@openai-proxy/shared';
import { startGateway } from './gateway.js';

function loadConfigOrExit(): GatewayConfig {
  try {
    return loadGatewayConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`openai-proxy gateway: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const config = loadConfigOrExit();
const logger = createLogger({ name: 'gateway', level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });

if (cluster.isPrimary && config.GATEWAY_PROCESSES > 1) {
  runClusterPrimary({
    processes: config.GATEWAY_PROCESSES,
    logger,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
  });
} else {
  const gateway = await startGateway(config, logger);
  const shutdown = (reason: string) => {
    logger.info({ reason }, 'gateway shutting down');
    void gateway.close().then(() => process.exit(0));
  };
  installProcessPolicy(logger, shutdown);
  onShutdownSignal(shutdown);
}

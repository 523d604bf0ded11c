import cluster from 'node:cluster';
import {
  createLogger,
  installProcessPolicy,
  loadConfigOrExit,
  onShutdownSignal,
  runClusterPrimary,
} from '@openai-proxy/shared';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';

const config = loadConfigOrExit('gateway', loadGatewayConfig);
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

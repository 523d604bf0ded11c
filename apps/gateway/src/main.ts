import cluster from 'node:cluster';
import {
  createLogger,
  exitOnListenFailure,
  installProcessPolicy,
  loadConfigOrExit,
  onReloadSignal,
  onShutdownSignal,
  runClusterPrimary,
} from '@openai-proxy/shared';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';
import { keylessUpstreamsWarning } from './security/keyless-upstreams.js';

const config = loadConfigOrExit('gateway', loadGatewayConfig);
const logger = createLogger({ name: 'gateway', level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });

// Once per start: a cluster's children run this module again, the primary (or a lone process) says it.
if (cluster.isPrimary) {
  const warning = keylessUpstreamsWarning(config, process.env);
  if (warning !== undefined) logger.warn(warning);
}

/** The variables an operator changes when the gateway cannot listen. */
const LISTEN_VARIABLES = { port: 'PORT', host: 'HOST' };

if (cluster.isPrimary && config.GATEWAY_PROCESSES > 1) {
  runClusterPrimary({
    processes: config.GATEWAY_PROCESSES,
    logger,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
  });
} else {
  // A taken PORT is one line and exit 1 (in a cluster, the primary prints it once for all).
  const gateway = await startGateway(config, logger).catch((error: unknown) =>
    exitOnListenFailure('gateway', LISTEN_VARIABLES, error),
  );
  const shutdown = (reason: string) => {
    logger.info({ reason }, 'gateway shutting down');
    void gateway.close().then(() => process.exit(0));
  };
  installProcessPolicy(logger, shutdown);
  onShutdownSignal(shutdown);
  onReloadSignal(() => gateway.reloadUpstreams());
}

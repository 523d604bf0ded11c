import cluster from 'node:cluster';
import {
  ConfigError,
  createLogger,
  installProcessPolicy,
  loadConfigOrExit,
  onShutdownSignal,
  runClusterPrimary,
} from '@openai-proxy/shared';
import { loadWorkerConfig, type WorkerConfig } from './config.js';
import { startMetricsServer } from './metrics-server.js';
import { startWorkerChild } from './worker-child.js';

/** Workers only run in queue mode, so REDIS_URL is required here. */
function loadQueueWorkerConfig(): WorkerConfig & { REDIS_URL: string } {
  const config = loadWorkerConfig();
  if (config.REDIS_URL === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  REDIS_URL: is required for workers (e.g. redis://127.0.0.1:6379)',
    );
  }
  return { ...config, REDIS_URL: config.REDIS_URL };
}

const config = loadConfigOrExit('worker', loadQueueWorkerConfig);
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });

if (cluster.isPrimary) {
  // The primary runs no jobs: it keeps WORKER_PROCESSES children alive and serves their metrics.
  if (config.WORKER_METRICS_PORT > 0)
    startMetricsServer(config.WORKER_METRICS_PORT, config.WORKER_METRICS_HOST, logger);
  runClusterPrimary({
    processes: config.WORKER_PROCESSES,
    logger,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
  });
} else {
  const running = await startWorkerChild(config, logger);
  const shutdown = (reason: string) => {
    logger.info({ reason }, 'worker child shutting down: finishing active jobs');
    const killTimer = setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS);
    killTimer.unref();
    void running.close().then(() => process.exit(0));
  };
  installProcessPolicy(logger, shutdown);
  onShutdownSignal(shutdown);
}

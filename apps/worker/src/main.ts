import cluster from 'node:cluster';
import {
  ConfigError,
  createLogger,
  exitOnListenFailure,
  installProcessPolicy,
  loadConfigOrExit,
  onReloadSignal,
  onShutdownSignal,
  type RedisTopology,
  redisTopology,
  runClusterPrimary,
} from '@openai-proxy/shared';
import { loadWorkerConfig, type WorkerConfig } from './config.js';
import { startMetricsServer } from './metrics-server.js';
import { type RunningWorker, startWorkerChild } from './worker-child.js';

/** Workers only run in queue mode, so a Redis is required here. */
function loadQueueWorkerConfig(): { config: WorkerConfig; redis: RedisTopology } {
  const config = loadWorkerConfig();
  const redis = redisTopology(config);
  if (redis === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  REDIS_URL: is required for workers (e.g. redis://127.0.0.1:6379), or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES',
    );
  }
  return { config, redis };
}

const { config, redis } = loadConfigOrExit('worker', loadQueueWorkerConfig);
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });

/** The variables an operator changes when the metrics port cannot be listened on. */
const METRICS_LISTEN_VARIABLES = { port: 'WORKER_METRICS_PORT', host: 'WORKER_METRICS_HOST' };

/**
 * After the grace, how long a child has to hand its unfinished jobs back (abort their upstream
 * calls, move them back to wait) before it gives up. Inside the margin the cluster primary
 * allows past the grace before it kills the child.
 */
const HAND_BACK_MS = 3_000;

if (cluster.isPrimary) {
  // The primary runs no jobs: it keeps WORKER_PROCESSES children alive and serves their metrics.
  // It listens before forking, so a taken port is one line and exit 1, with no child started
  // only to lose its primary.
  if (config.WORKER_METRICS_PORT > 0) {
    await startMetricsServer(config.WORKER_METRICS_PORT, config.WORKER_METRICS_HOST, logger).catch(
      (error: unknown) => exitOnListenFailure('worker', METRICS_LISTEN_VARIABLES, error),
    );
  }
  runClusterPrimary({
    processes: config.WORKER_PROCESSES,
    logger,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
  });
} else {
  let running: RunningWorker | undefined;
  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    if (running === undefined) {
      // Still starting (most often still reaching Redis): nothing to finish. A job taken in the
      // last instant of the start-up goes back to the queue through the stalled-job check.
      logger.info({ reason }, 'worker child stopping before it started');
      process.exit(0);
    }
    logger.info({ reason }, 'worker child shutting down: finishing active jobs');
    // Redis away, most often: a job can be neither finished nor moved back to wait. It returns
    // to the queue through the stalled-job check once its lock expires.
    const killTimer = setTimeout(() => {
      logger.warn(
        { graceMs: config.SHUTDOWN_GRACE_MS, handBackMs: HAND_BACK_MS },
        'jobs could not be handed back in time; exiting with jobs unfinished',
      );
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + HAND_BACK_MS);
    killTimer.unref();
    running.close().then(
      ({ stranded }) => {
        if (stranded > 0) logger.warn({ stranded }, 'exiting with jobs unfinished');
        process.exit(stranded > 0 ? 1 : 0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'worker child could not close cleanly');
        process.exit(1);
      },
    );
  };
  // Before starting: a signal that arrives while Redis is still being reached must end the child
  // now, not kill it with the default action or wait for Redis.
  onShutdownSignal(shutdown);
  // Before starting too: SIGHUP's default action would end the child. A reload that comes before
  // the upstreams exist has nothing to do; they are read from the file as it is then.
  onReloadSignal(() => running?.reloadUpstreams());
  running = await startWorkerChild(config, redis, logger);
  installProcessPolicy(logger, shutdown);
}

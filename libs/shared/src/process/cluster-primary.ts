import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

export interface ClusterPrimaryOptions {
  processes: number;
  logger: Logger;
  /** How long children get to finish after SIGTERM before they are killed. */
  shutdownGraceMs: number;
  /** Environment for each child (merged into process.env). */
  env?: Record<string, string>;
}

/**
 * A `node:cluster` primary: forks the children, replaces one that dies (unless shutting down),
 * and on SIGTERM/SIGINT passes the signal on, waits for the children to finish their work,
 * then exits. Returns a function that starts the same shutdown.
 */
export function runClusterPrimary(options: ClusterPrimaryOptions): {
  shutdown: (signal: NodeJS.Signals) => void;
} {
  const { logger } = options;
  let shuttingDown = false;
  const fork = (): Worker => cluster.fork(options.env ?? {});

  cluster.on('exit', (worker, code, signal) => {
    if (shuttingDown) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('all children exited; primary exits');
        process.exit(0);
      }
      return;
    }
    logger.warn({ child: worker.process.pid, code, signal }, 'child died; starting a replacement');
    fork();
  });

  for (let index = 0; index < options.processes; index += 1) fork();
  logger.info({ processes: options.processes }, 'cluster primary started');

  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down children');
    const children = Object.values(cluster.workers ?? {}).filter(
      (worker): worker is Worker => worker !== undefined,
    );
    if (children.length === 0) process.exit(0);
    for (const child of children) child.process.kill('SIGTERM');
    const killTimer = setTimeout(() => {
      logger.warn('grace period over; killing children that are still running');
      for (const child of Object.values(cluster.workers ?? {})) child?.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownGraceMs + 5_000);
    killTimer.unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return { shutdown };
}

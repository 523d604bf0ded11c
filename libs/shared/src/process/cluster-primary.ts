import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { isStartupFailureMessage } from './startup-failure.js';

export interface ClusterPrimaryOptions {
  processes: number;
  logger: Logger;
  /** How long children get to finish after SIGTERM before they are killed. */
  shutdownGraceMs: number;
  /** Environment for each child (merged into process.env). */
  env?: Record<string, string>;
}

/** Past the children's own grace: they end themselves at SHUTDOWN_GRACE_MS; this is for one that cannot. */
const KILL_MARGIN_MS = 5_000;

/**
 * A child that ended with nothing cut short: it finished its work and exited 0, or a signal
 * reached it before it had installed its handlers, so before it could have taken any work.
 */
function stoppedCleanly(code: number | null, signal: string | null): boolean {
  return code === 0 || signal === 'SIGTERM' || signal === 'SIGINT';
}

/**
 * A `node:cluster` primary: forks the children, replaces one that dies (unless shutting down),
 * and on SIGTERM/SIGINT passes SIGTERM on, waits for the children to finish their work, then
 * exits: 0 when every child stopped cleanly, 1 otherwise. SIGHUP is passed on to every child. A child that reports a start-up failure
 * (its port is taken, say) stops them all: the primary prints the child's line once and exits 1.
 * Returns a function that starts the same shutdown.
 */
export function runClusterPrimary(options: ClusterPrimaryOptions): {
  shutdown: (signal: NodeJS.Signals) => void;
} {
  const { logger } = options;
  // The live children, kept here rather than read from `cluster.workers`: Node removes a child
  // from `cluster.workers` only once both its process exited and its IPC channel closed, and the
  // channel may close after the 'exit' event, so the last child could still be listed there.
  const children = new Set<Worker>();
  let stopping = false;
  let startupFailed = false;
  let exitCode = 0;

  const exitOnceAllGone = () => {
    if (children.size > 0) return;
    if (!startupFailed) logger.info({ exitCode }, 'all children exited; primary exits');
    process.exit(exitCode);
  };

  const stopChildren = () => {
    stopping = true;
    for (const child of children) child.process.kill('SIGTERM');
    const killTimer = setTimeout(() => {
      logger.warn('grace period over; killing children that are still running');
      for (const child of children) child.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownGraceMs + KILL_MARGIN_MS);
    killTimer.unref();
    exitOnceAllGone();
  };

  const onStartupFailure = (line: string) => {
    // Every child meets the same failure; the operator reads it once.
    if (startupFailed) return;
    startupFailed = true;
    exitCode = 1;
    process.stderr.write(`${line}\n`);
    if (!stopping) stopChildren();
  };

  const fork = (): Worker => {
    const child = cluster.fork(options.env ?? {});
    children.add(child);
    child.on('message', (message: unknown) => {
      if (isStartupFailureMessage(message)) onStartupFailure(message.line);
    });
    return child;
  };

  cluster.on('exit', (child, code, signal) => {
    children.delete(child);
    if (stopping) {
      if (!stoppedCleanly(code, signal)) exitCode = 1;
      if (!startupFailed) logger.info({ child: child.process.pid, code, signal }, 'child exited');
      exitOnceAllGone();
      return;
    }
    logger.warn({ child: child.process.pid, code, signal }, 'child died; starting a replacement');
    fork();
  });

  for (let index = 0; index < options.processes; index += 1) fork();
  logger.info({ processes: options.processes }, 'cluster primary started');

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    logger.info({ signal }, 'shutting down children');
    stopChildren();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A reload is each child's own (it re-reads its files); the primary only passes the signal on.
  process.on('SIGHUP', () => {
    logger.info({ children: children.size }, 'SIGHUP: passing the reload on to the children');
    for (const child of children) child.process.kill('SIGHUP');
  });
  return { shutdown };
}

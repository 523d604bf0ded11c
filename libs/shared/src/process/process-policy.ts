import type { Logger } from 'pino';

/**
 * What a process does with an error nobody caught. An unhandled rejection is logged and the
 * process goes on: every request path has its own handler, so a stray promise is a bug to fix,
 * not a reason to drop every other request. An uncaught exception leaves the process in an
 * unknown state: it is logged and the process begins its graceful shutdown, so in-flight work
 * finishes and the supervisor (cluster primary, PM2, systemd, Docker) starts a fresh one.
 */
export function installProcessPolicy(logger: Logger, shutdown: (reason: string) => void): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (process continues)');
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception; shutting down gracefully');
    shutdown('uncaughtException');
  });
}

/** Runs `shutdown` once on SIGTERM or SIGINT. */
export function onShutdownSignal(shutdown: (reason: string) => void): void {
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

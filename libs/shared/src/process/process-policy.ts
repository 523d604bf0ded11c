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

/**
 * Runs `shutdown` on the first SIGTERM or SIGINT and ignores the ones after it. The listeners stay
 * (no `once`): a signal sent to a whole process group (Ctrl-C in a terminal, `kill -TERM -<pgid>`,
 * some supervisors) reaches a cluster child twice, from the group and again from its primary, and
 * with no listener left the second one would kill the child half-way through its work.
 */
export function onShutdownSignal(shutdown: (reason: string) => void): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Runs `reload` on every SIGHUP, the signal daemons re-read their configuration on (`kill -HUP`,
 * `systemctl reload`). Without a listener SIGHUP would end the process.
 */
export function onReloadSignal(reload: () => void): void {
  process.on('SIGHUP', () => reload());
}

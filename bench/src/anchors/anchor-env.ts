/** The gateway's default LISTEN_BACKLOG: anchors listen as deep as it does (the kernel caps both). */
export const LISTEN_BACKLOG = 65_535;

/** Where an anchor listens: the port the bench gave it, on loopback. */
export function listenOptions() {
  return { port: Number(requiredEnv('PORT')), host: '127.0.0.1', backlog: LISTEN_BACKLOG };
}

/** A variable the bench cluster always sets for an anchor; its absence is a bench bug, so it throws. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

/**
 * Tells the bench this anchor serves (it waits for this line), and exits cleanly on SIGTERM so
 * that `--cpu-prof` can write its profile.
 */
export function announceReady(): void {
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
}

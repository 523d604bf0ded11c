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

// `npm start`: builds when the build is missing or stale, then runs the compiled gateway, plus the
// worker farm when REDIS_URL is set, on one machine. SIGTERM/SIGINT stop both, SIGHUP reloads
// both; one that ends on its own stops the other (see supervisor.mjs).
import { Supervisor, shutdownGraceMs } from './supervisor.mjs';

const supervisor = new Supervisor({ label: 'openai-proxy', graceMs: shutdownGraceMs() });

// In this process rather than in the npm script, so a signal during the build stops it too.
const built = await supervisor.runStep('build', [
  'node_modules/.bin/turbo',
  'run',
  'build',
  '--output-logs=errors-only',
]);
if (built !== 0) process.exit(built);

supervisor.start('gateway', ['apps/gateway/dist/main.js']);
if (process.env.REDIS_URL) supervisor.start('worker', ['apps/worker/dist/main.js']);

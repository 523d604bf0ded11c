// `npm run dev`: gateway (and worker, when REDIS_URL is set) from TypeScript sources in watch
// mode, with pretty logs. The shared library is rebuilt by `tsc --watch` beside them. The local
// binaries run directly (no npx, a layer that does not pass signals on), each in a process group
// of its own that a stop signals whole: tsx watch and the app it restarts end together.
import { Supervisor, shutdownGraceMs } from './supervisor.mjs';

const env = { ...process.env, LOG_PRETTY: 'true' };
const supervisor = new Supervisor({ label: 'openai-proxy dev', graceMs: shutdownGraceMs() });

const built = await supervisor.runStep('build', [
  'node_modules/.bin/turbo',
  'run',
  'build',
  '--filter=@openai-proxy/shared',
  '--filter=@openai-proxy/mock-upstream',
  '--output-logs=errors-only',
]);
if (built !== 0) process.exit(built);

const watch = (entry) => ['node_modules/.bin/tsx', 'watch', '--clear-screen=false', entry];
supervisor.start(
  'tsc',
  ['node_modules/.bin/tsc', '-p', 'libs/shared/tsconfig.build.json', '--watch', '--preserveWatchOutput'],
  { env, signalsGroup: true },
);
supervisor.start('gateway', watch('apps/gateway/src/main.ts'), { env, signalsGroup: true });
if (process.env.REDIS_URL)
  supervisor.start('worker', watch('apps/worker/src/main.ts'), { env, signalsGroup: true });

// `npm run dev`: gateway (and worker, when REDIS_URL is set) from TypeScript sources in watch
// mode, with pretty logs. The shared library is rebuilt by `tsc --watch` beside them.
import { spawn } from 'node:child_process';

const env = { ...process.env, LOG_PRETTY: 'true' };
const run = (args) => spawn('npx', args, { stdio: 'inherit', env });
const children = [
  run(['tsc', '-p', 'libs/shared/tsconfig.build.json', '--watch', '--preserveWatchOutput']),
  run(['tsx', 'watch', '--clear-screen=false', 'apps/gateway/src/main.ts']),
];
if (process.env.REDIS_URL)
  children.push(run(['tsx', 'watch', '--clear-screen=false', 'apps/worker/src/main.ts']));
const stop = () => {
  for (const child of children) child.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

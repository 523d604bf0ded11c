// `npm start`: the gateway, plus the worker farm when REDIS_URL is set, on one machine.
// Runs the compiled JS (the npm script builds first when the build is missing or stale).
import { spawn } from 'node:child_process';

const apps = [['gateway', 'apps/gateway/dist/main.js']];
if (process.env.REDIS_URL) apps.push(['worker', 'apps/worker/dist/main.js']);

const children = apps.map(([name, entry]) => {
  const child = spawn(process.execPath, [entry], { stdio: 'inherit', env: process.env });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`openai-proxy: ${name} exited (${signal ?? code}); stopping the others`);
      stop('SIGTERM');
      process.exitCode = code ?? 1;
    }
  });
  return child;
});

let stopping = false;
function stop(signal) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

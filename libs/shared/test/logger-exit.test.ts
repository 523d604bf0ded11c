import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A process that logs and exits at once while nobody reads its output any more (the supervisor
// or the terminal that held its stdout is gone) must still exit. Pino flushes what is buffered on
// exit; sonic-boom 4 retried a broken pipe there for ever, with the process ignoring SIGTERM.
// A real Node process with the logger as built, its stdout reader closed before it logs.

const SHARED = fileURLToPath(new URL('../dist/index.js', import.meta.url));

const SCRIPT = `
import { createLogger } from ${JSON.stringify(SHARED)};
const logger = createLogger({ name: 'exit-test', level: 'info' });
setTimeout(() => {
  logger.info('one');
  logger.info('two');
  logger.info('three');
  process.exit(0);
}, 200);
`;

describe('the logger on a closed stdout', () => {
  it('lets the process exit when it logs and exits at once', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    child.stderr.resume();
    const exited = once(child, 'exit');
    const gaveUp = setTimeout(() => child.kill('SIGKILL'), 5_000);
    const [code, signal] = await exited;
    clearTimeout(gaveUp);
    // Killed by the test after 5 s is the failure: the process hung in its exit.
    expect(signal).toBeNull();
    expect(code).toBe(0);
  });
});

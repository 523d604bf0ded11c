import { Socket } from 'node:net';
import { type BenchProcess, startProcess, waitUntil } from './child-process.js';
import { freePort } from './free-port.js';

/** A private `redis-server` on a free port, without persistence, as the integration tests start theirs. */
export async function startRedis(cwd: string): Promise<{ process: BenchProcess; url: string; port: number }> {
  const port = await freePort();
  const redis = startProcess(
    'redis',
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ],
    { cwd, env: { PATH: process.env.PATH ?? '' } },
  );
  // redis-server prints nothing at loglevel warning: ready when it answers PING.
  await waitUntil('PONG', redis, () => answersPing(port), 10_000);
  return { process: redis, url: `redis://127.0.0.1:${port}`, port };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
  });
}

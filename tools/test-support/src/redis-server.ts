import { Socket } from 'node:net';
import { freePort } from './free-port.js';
import { type SpawnedProcess, spawnProcess, waitUntil } from './spawned-process.js';

export interface RedisOptions {
  /**
   * Keep the data in an append-only file in this folder, written through on every command, so a
   * restart (even after SIGKILL) finds everything a client was told was written. Without it the
   * server keeps nothing and each start is empty.
   */
  appendOnlyDir?: string;
  /**
   * With `appendOnlyDir`: `always` (the default) syncs the file on every write; `everysec` is how
   * docker-compose.yml runs Redis, so a SIGKILL may lose up to a second of writes, as in production.
   */
  appendFsync?: 'always' | 'everysec';
}

/** A real `redis-server` of the caller's own, on a free port, that can be stopped and started again. */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** The redis-server process running now (a new one after each start). */
  readonly process: SpawnedProcess;
  /** Ends the server; SIGKILL by default, as a crash or an outage would. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and, if any, the same append-only file. */
  start(): Promise<void>;
  restart(): Promise<void>;
}

function serverArgs(port: number, options: RedisOptions): string[] {
  const persistence =
    options.appendOnlyDir === undefined
      ? ['--save', '', '--appendonly', 'no']
      : [
          '--save',
          '',
          '--dir',
          options.appendOnlyDir,
          '--appendonly',
          'yes',
          '--appendfsync',
          options.appendFsync ?? 'always',
          '--maxmemory-policy',
          'noeviction',
        ];
  return ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--loglevel', 'warning'];
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('error', () => resolve(false));
    // A server that accepts but never answers would otherwise hold the poll past its deadline.
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
  });
}

async function launch(port: number, options: RedisOptions): Promise<SpawnedProcess> {
  const server = spawnProcess('redis-server', 'redis-server', serverArgs(port, options), {
    env: { PATH: process.env.PATH ?? '' },
  });
  try {
    // Ready when it answers PING: at loglevel warning redis-server prints nothing.
    await waitUntil('PONG', server, () => answersPing(port), 10_000);
    return server;
  } catch (error) {
    await server.stop('SIGKILL');
    throw error;
  }
}

export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  let server = await launch(port, options);
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    await server.stop(signal);
  };
  const start = async () => {
    if (!server.exited()) return;
    server = await launch(port, options);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get process() {
      return server;
    },
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
  };
}

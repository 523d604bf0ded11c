import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
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
  /** An ACL user with every right, and the default user off: the URL then carries user and password. */
  acl?: { user: string; password: string };
  /** Serve TLS only (a `rediss://` URL), with this certificate (see `makeTlsCertificate`). */
  tls?: { certFile: string; keyFile: string };
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
  const listen =
    options.tls === undefined
      ? ['--port', String(port)]
      : [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          options.tls.certFile,
          '--tls-key-file',
          options.tls.keyFile,
          '--tls-ca-cert-file',
          options.tls.certFile,
          '--tls-auth-clients',
          'no',
        ];
  const acl =
    options.acl === undefined
      ? []
      : [
          '--user',
          'default',
          'off',
          '--user',
          options.acl.user,
          'on',
          `>${options.acl.password}`,
          '~*',
          '&*',
          '+@all',
        ];
  return [...listen, '--bind', '127.0.0.1', ...acl, ...persistence, '--loglevel', 'warning'];
}

function answersPing(port: number, options: RedisOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const auth = options.acl === undefined ? '' : `AUTH ${options.acl.user} ${options.acl.password}\r\n`;
    const ping = () => socket.write(`${auth}PING\r\n`);
    const socket =
      options.tls === undefined
        ? new Socket().connect(port, '127.0.0.1', ping)
        : connectTls({ port, host: '127.0.0.1', ca: readFileSync(options.tls.certFile) }, ping);
    socket.once('error', () => resolve(false));
    // A server that accepts but never answers would otherwise hold the poll past its deadline.
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    let replies = '';
    socket.on('data', (data) => {
      replies += data.toString();
      if (!replies.endsWith('\r\n')) return;
      resolve(replies.includes('+PONG'));
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
    await waitUntil('PONG', server, () => answersPing(port, options), 10_000);
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
    url: `${options.tls === undefined ? 'redis' : 'rediss'}://${
      options.acl === undefined
        ? ''
        : `${encodeURIComponent(options.acl.user)}:${encodeURIComponent(options.acl.password)}@`
    }127.0.0.1:${port}`,
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

import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type SpawnedProcess, spawnProcess, waitUntil } from '@openai-proxy/test-support';

/**
 * A `redis-server` persisted exactly as docker-compose.yml runs it: append-only file on, fsync
 * once a second, no snapshots, no eviction, in a directory of its own, so a test can SIGKILL it
 * and start it again on what the file kept. (test-support's `startRedis({ appendOnlyDir })`
 * fsyncs on every write, `always`; the compose setting `everysec` is what operators run.)
 */
export interface AofRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** SIGKILL: no shutdown, no final write; what survives is what the file had. */
  kill(): Promise<void>;
  /** Starts again on the same port and directory; resolves once it answers PING (file loaded). */
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  dispose(): Promise<void>;
}

const COMPOSE_PERSISTENCE = [
  '--appendonly',
  'yes',
  '--appendfsync',
  'everysec',
  '--save',
  '',
  '--maxmemory-policy',
  'noeviction',
];

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('error', () => resolve(false));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    // While it loads the file Redis answers -LOADING: not ready yet.
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
  });
}

async function launch(port: number, dir: string): Promise<SpawnedProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--loglevel', 'warning'];
  const server = spawnProcess('redis-server (AOF)', 'redis-server', [...args, ...COMPOSE_PERSISTENCE], {
    env: { PATH: process.env.PATH ?? '' },
  });
  try {
    await waitUntil('PONG', server, () => answersPing(port), 10_000);
    return server;
  } catch (error) {
    await server.stop('SIGKILL');
    throw error;
  }
}

export async function startAofRedis(): Promise<AofRedis> {
  const [port, dir] = await Promise.all([freePort(), mkdtemp(join(tmpdir(), 'oaip-aof-'))]);
  let server = await launch(port, dir);
  const kill = async () => {
    await server.stop('SIGKILL');
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill,
    async start() {
      if (!server.exited()) return;
      server = await launch(port, dir);
    },
    async dispose() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../free-port.js';

/**
 * A `redis-server` persisted as docker-compose.yml runs it (append-only file on, fsync every
 * second, no snapshots, no eviction), in a directory of its own, so a test can SIGKILL it and
 * start it again on what the file kept. support/redis-server.ts runs without persistence: a
 * restart there starts empty, which is a different fault.
 */
export interface AofRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** SIGKILL: no shutdown, no final write; what survives is what the file had. */
  kill(): Promise<void>;
  /** Starts again on the same port and directory; resolves once it answers PING (AOF loaded). */
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
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    // While it loads the file Redis answers -LOADING: not ready yet.
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
  });
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--loglevel',
      'warning',
      ...COMPOSE_PERSISTENCE,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (data: Buffer) => {
    output += data.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited early: ${output}`);
    if (await answersPing(port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${port}: ${output}`);
}

export async function startAofRedis(): Promise<AofRedis> {
  const [port, dir] = await Promise.all([freePort(), mkdtemp(join(tmpdir(), 'oaip-aof-'))]);
  let child: ChildProcess | undefined = await launch(port, dir);
  const kill = async () => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    child = undefined;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill,
    async start() {
      if (child !== undefined && child.exitCode === null) return;
      child = await launch(port, dir);
    },
    async dispose() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

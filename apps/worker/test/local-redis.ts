import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A real redis-server of one test file, with the clients it handed out. */
export interface LocalRedis {
  /** A new client of this server; closed by `stop`. */
  connect(): Redis;
  stop(): Promise<void>;
}

/**
 * Starts a redis-server listening on a unix socket in a fresh folder, so there is no port to
 * find. Not `startRedis` from @openai-proxy/test-support: that package depends on this app, and
 * a dependency back from here would make the workspace graph a cycle, which turbo refuses.
 */
export async function startLocalRedis(): Promise<LocalRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'oaip-unit-redis-'));
  const path = join(dir, 'redis.sock');
  const server = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(server, 'exit');
  await new Promise<void>((resolve, reject) => {
    let printed = '';
    const onData = (data: Buffer) => {
      printed += data.toString();
      if (!/ready to accept connections/i.test(printed)) return;
      server.stdout.off('data', onData);
      server.stdout.resume();
      resolve();
    };
    server.stdout.on('data', onData);
    exited.then(() => reject(new Error(`redis-server exited before it was ready:\n${printed}`)), reject);
  });
  const clients: Redis[] = [];
  return {
    connect() {
      const client = new Redis({ path, maxRetriesPerRequest: null });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.disconnect();
      if (server.exitCode === null && server.signalCode === null) {
        server.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

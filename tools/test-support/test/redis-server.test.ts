import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../src/index.js';

let redis: TestRedis | undefined;
afterEach(async () => {
  await redis?.stop();
});

/** Writes a key, restarts the server after SIGKILL, and reads the key back. */
async function survivesACrash(server: TestRedis): Promise<string | null> {
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  try {
    await client.set('written', 'before the crash');
    await server.restart();
    return await client.get('written');
  } finally {
    client.disconnect();
  }
}

describe('startRedis', () => {
  it('keeps nothing across a restart by default', async () => {
    redis = await startRedis();
    expect(await survivesACrash(redis)).toBeNull();
  });

  it('with appendOnlyDir, finds every acknowledged write again after SIGKILL, on the same port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'test-support-aof-'));
    try {
      redis = await startRedis({ appendOnlyDir: dir });
      const { port, url } = redis;
      expect(await survivesACrash(redis)).toBe('before the crash');
      expect({ port: redis.port, url: redis.url }).toEqual({ port, url });
    } finally {
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stop() ends the process and start() brings a new one', async () => {
    redis = await startRedis();
    const first = redis.process;
    await redis.stop();
    expect(first.exited()).toBe(true);
    await redis.start();
    expect(redis.process.pid).not.toBe(first.pid);
    expect(redis.process.exited()).toBe(false);
  });
});

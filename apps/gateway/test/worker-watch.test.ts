import { once } from 'node:events';
import { type QueueNames, queueNames } from '@openai-proxy/shared';
import { startHeartbeat } from '@openai-proxy/shared/redis';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerWatch } from '../src/completion/worker-watch.js';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

const REFUSE_AFTER_MS = 1_000;
const START = new Date('2030-01-01T00:00:00Z').getTime();

let redis: LocalRedis;
let deployments = 0;

beforeAll(async () => {
  redis = await startLocalRedis();
});

afterAll(async () => {
  await redis?.stop();
});

beforeEach(() => {
  // The gateway's clock and its sampling interval are faked; Redis's own clock (which scores
  // the workers' beats) and the client's timers stay real.
  vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'], now: START });
});

afterEach(() => {
  vi.useRealTimers();
});

/** A ready client and a key prefix of its own, so tests share no worker set. */
async function deployment(): Promise<{ client: Redis; names: QueueNames }> {
  deployments += 1;
  const client = redis.connect();
  if (client.status !== 'ready') await once(client, 'ready');
  return { client, names: queueNames(`{watch-${deployments}}`) };
}

describe('WorkerWatch', () => {
  it('counts the live workers and, once one was seen, reports their absence without giving up on the queue', async () => {
    const { client, names } = await deployment();
    const noneCame: number[] = [];
    const watch = new WorkerWatch(client, names, REFUSE_AFTER_MS, (ms) => noneCame.push(ms));
    // Same connection as the watch: the beat reaches Redis before the sample's count.
    const beatErrors: unknown[] = [];
    const heartbeat = startHeartbeat(client, names, 'host:1', (error) => beatErrors.push(error));
    await watch.sample();
    expect(watch.live()).toBe(1);
    expect(watch.missingFor()).toBeUndefined();

    await heartbeat.stop();
    vi.setSystemTime(START + REFUSE_AFTER_MS);
    await watch.sample();
    expect(watch.live()).toBe(0);
    expect(watch.missingFor()).toBeUndefined();
    vi.setSystemTime(START + REFUSE_AFTER_MS + 1);
    await watch.sample();
    expect(watch.missingFor()).toBe(REFUSE_AFTER_MS + 1);
    expect(noneCame).toEqual([]);
    expect(beatErrors).toEqual([]);
    watch.close();
  });

  it('gives the workers refuseAfterMs from its start, then calls onNoneCame at each sample', async () => {
    const { client, names } = await deployment();
    const noneCame: number[] = [];
    const watch = new WorkerWatch(client, names, REFUSE_AFTER_MS, (ms) => noneCame.push(ms));
    vi.setSystemTime(START + REFUSE_AFTER_MS);
    await watch.sample();
    expect(watch.live()).toBe(0);
    expect(noneCame).toEqual([]);

    vi.setSystemTime(START + 1_500);
    await watch.sample();
    vi.setSystemTime(START + 2_000);
    await watch.sample();
    expect(noneCame).toEqual([1_500, 2_000]);
    expect(watch.missingFor()).toBe(2_000);
    watch.close();
  });

  it('samples twice a second by itself until closed', async () => {
    const { client, names } = await deployment();
    let noticed: (ms: number) => void = () => undefined;
    const firstNotice = new Promise<number>((resolve) => {
      noticed = resolve;
    });
    const watch = new WorkerWatch(client, names, REFUSE_AFTER_MS, (ms) => noticed(ms));
    expect(vi.getTimerCount()).toBe(1);
    vi.setSystemTime(START + 2_000);
    await vi.advanceTimersByTimeAsync(500);
    expect(await firstNotice).toBe(2_500);
    watch.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('watches nothing with refuseAfterMs 0: no count, never missing, never gives up', async () => {
    const { client, names } = await deployment();
    const noneCame: number[] = [];
    const watch = new WorkerWatch(client, names, 0, (ms) => noneCame.push(ms));
    vi.setSystemTime(START + 3_600_000);
    await watch.sample();
    expect(watch.live()).toBeUndefined();
    expect(watch.missingFor()).toBeUndefined();
    expect(noneCame).toEqual([]);
    watch.close();
  });

  it('decides nothing while its Redis connection is not ready', async () => {
    const { client, names } = await deployment();
    const noneCame: number[] = [];
    const watch = new WorkerWatch(client, names, REFUSE_AFTER_MS, (ms) => noneCame.push(ms));
    client.disconnect();
    vi.setSystemTime(START + 10_000);
    await watch.sample();
    expect(noneCame).toEqual([]);
    watch.close();
  });
});

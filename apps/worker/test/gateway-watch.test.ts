import { once } from 'node:events';
import { queueNames } from '@openai-proxy/shared';
import { ALIVE_FOR_MS, gatewayWatch } from '@openai-proxy/shared/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

// Whether the gateway that queued a job is gone, as the worker asks it before calling an
// upstream: against a real redis-server, counting the questions that reach it.

let server: LocalRedis;
let client: Redis;
const names = queueNames('{gateway-watch}');

beforeAll(async () => {
  server = await startLocalRedis();
  client = server.connect();
  if (client.status !== 'ready') await once(client, 'ready');
});

afterAll(async () => {
  await server?.stop();
});

/** Script calls Redis has run so far (a question is one EVALSHA). */
async function scriptCalls(): Promise<number> {
  const stats = await client.info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('gatewayWatch', () => {
  it('asks Redis once for a burst of one gateway’s jobs, and gives each job the verdict', async () => {
    // Their beats, as the gateways' heartbeats leave them (scored by Redis's clock): one just now,
    // one older than a live gateway's. Written here, so no beat runs a script while counting.
    const [seconds] = await client.time();
    const nowMs = Number(seconds) * 1000;
    await client.zadd(names.gatewaysKey, nowMs, 'gateway-live', nowMs - ALIVE_FOR_MS - 5_000, 'gateway-left');
    const isGone = gatewayWatch(client, names);
    // The script is loaded by a first question (EVALSHA, then EVAL when Redis lacks it).
    expect(await isGone('gateway-never-seen')).toBe(false);
    const before = await scriptCalls();

    const verdicts = await Promise.all(
      Array.from({ length: 1_000 }, (_, index) => isGone(index % 2 === 0 ? 'gateway-live' : 'gateway-left')),
    );
    expect(verdicts.filter((gone) => !gone)).toHaveLength(500);
    expect(verdicts.every((gone, index) => gone === (index % 2 === 1))).toBe(true);
    expect((await scriptCalls()) - before).toBe(2);

    // Within the second, the verdicts are kept: no question at all.
    expect(await isGone('gateway-live')).toBe(false);
    expect(await isGone('gateway-left')).toBe(true);
    expect((await scriptCalls()) - before).toBe(2);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProxyError, reserveInGroup, UpstreamSet } from '@openai-proxy/shared';
import { CapacityStore } from '@openai-proxy/shared/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

// Each upstream's room in a real redis-server: what one worker reserves, every other sees.

let server: LocalRedis;
let redis: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startLocalRedis();
  redis = server.connect();
});

afterAll(() => server?.stop());

/** Two stores on separate connections with one prefix: two workers sharing a queue. */
function twoWorkers() {
  prefixes += 1;
  const prefix = `{capacity-${prefixes}}`;
  return [new CapacityStore(server.connect(), prefix), new CapacityStore(server.connect(), prefix)] as const;
}

const T0 = 1_800_000_000_000;

describe('max_concurrency', () => {
  it('holds a place per call across workers, and a release frees it', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { maxConcurrency: 2 } };
    expect(await a.reserve([member], 0, 'j1', 60_000, T0)).toEqual({ granted: true, member: 0, lease: 'j1' });
    expect(await b.reserve([member], 0, 'j2', 60_000, T0)).toMatchObject({ granted: true });
    const full = await a.reserve([member], 0, 'j3', 60_000, T0);
    expect(full.granted).toBe(false);
    await b.release('u1', 'j2', 0, undefined);
    expect(await a.reserve([member], 0, 'j3', 60_000, T0)).toMatchObject({ granted: true });
  });

  it("frees the place of a worker that died holding it when the lease's time is up", async () => {
    const [a] = twoWorkers();
    const member = { label: 'u1', capacity: { maxConcurrency: 1 } };
    await a.reserve([member], 0, 'dead', 1_000, T0);
    expect((await a.reserve([member], 0, 'next', 1_000, T0 + 999)).granted).toBe(false);
    expect((await a.reserve([member], 0, 'next', 1_000, T0 + 1_001)).granted).toBe(true);
  });

  it('takes the next member of the group when the first is full', async () => {
    const [a] = twoWorkers();
    const members = [
      { label: 'full', capacity: { maxConcurrency: 1 } },
      { label: 'free', capacity: { maxConcurrency: 1 } },
    ];
    expect(await a.reserve(members, 0, 'j1', 60_000, T0)).toMatchObject({ granted: true, member: 0 });
    expect(await a.reserve(members, 0, 'j2', 60_000, T0)).toMatchObject({ granted: true, member: 1 });
    expect((await a.reserve(members, 0, 'j3', 60_000, T0)).granted).toBe(false);
  });
});

describe('rpm', () => {
  it('admits rpm calls in any minute and says when the oldest leaves the window', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { rpm: 3 } };
    for (const [store, at] of [
      [a, T0],
      [b, T0 + 10_000],
      [a, T0 + 20_000],
    ] as const) {
      const lease = `at-${at}`;
      expect(await store.reserve([member], 0, lease, 1_000, at)).toMatchObject({ granted: true });
      await store.release('u1', lease, 0, undefined);
    }
    expect(await b.reserve([member], 0, 'fourth', 1_000, T0 + 30_000)).toEqual({
      granted: false,
      waitMs: 30_000,
    });
    expect(await b.reserve([member], 0, 'fourth', 1_000, T0 + 60_001)).toMatchObject({ granted: true });
  });
});

describe('rpm as an even rate', () => {
  it('admits at most rpm/60 in any one second, saying when the second frees a place', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { rpm: 600 } };
    for (let i = 0; i < 10; i += 1) {
      const store = i % 2 === 0 ? a : b;
      expect((await store.reserve([member], 0, `j${i}`, 1_000, T0 + i * 10)).granted).toBe(true);
    }
    expect(await a.reserve([member], 0, 'j10', 1_000, T0 + 500)).toEqual({ granted: false, waitMs: 500 });
    expect((await a.reserve([member], 0, 'j10', 1_000, T0 + 1_000)).granted).toBe(true);
    expect((await a.reserve([member], 0, 'j11', 1_000, T0 + 1_001)).granted).toBe(false);
  });
});

describe('tpm', () => {
  it('counts the estimate, then what the answer used', async () => {
    const [a] = twoWorkers();
    const member = { label: 'u1', capacity: { tpm: 1_000 } };
    expect(await a.reserve([member], 600, 'big', 1_000, T0)).toMatchObject({ granted: true });
    expect(await a.reserve([member], 600, 'too-big', 1_000, T0 + 1)).toEqual({
      granted: false,
      waitMs: 59_999,
    });
    // The first call used 100 tokens, not 600: room for the second now.
    await a.release('u1', 'big', 600, 100);
    expect(await a.reserve([member], 600, 'fits', 1_000, T0 + 2)).toMatchObject({ granted: true });
  });

  it('takes what leaves the minute off the sum, and says when enough has left', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { tpm: 1_000 } };
    expect(await a.reserve([member], 600, 'first', 1_000, T0)).toMatchObject({ granted: true });
    expect(await b.reserve([member], 300, 'second', 1_000, T0 + 30_000)).toMatchObject({ granted: true });
    expect(await a.reserve([member], 600, 'third', 1_000, T0 + 59_999)).toEqual({
      granted: false,
      waitMs: 1,
    });
    expect(await a.reserve([member], 600, 'third', 1_000, T0 + 60_001)).toMatchObject({ granted: true });
    // 300 + 600 now: another 200 waits for `second` to leave.
    expect(await b.reserve([member], 200, 'fourth', 1_000, T0 + 60_002)).toEqual({
      granted: false,
      waitMs: 29_998,
    });
    expect((await a.snapshot('u1', T0 + 60_002)).tokensLastMinute).toBe(900);
  });

  it('lets a call larger than the whole limit through an empty window rather than never', async () => {
    const [a] = twoWorkers();
    const member = { label: 'u1', capacity: { tpm: 100 } };
    expect(await a.reserve([member], 500, 'huge', 1_000, T0)).toMatchObject({ granted: true });
  });
});

describe("what an upstream's headers said", () => {
  it('no request left: nobody calls it before the reset, and then every worker may again', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { rpm: 1_000 } };
    await a.learn('u1', { requests: { remaining: 0, resetAtMs: T0 + 5_000 } }, T0);
    expect(await b.reserve([member], 0, 'j1', 1_000, T0 + 1_000)).toEqual({ granted: false, waitMs: 4_000 });
    expect(await b.reserve([member], 0, 'j1', 1_000, T0 + 5_000)).toMatchObject({ granted: true });
  });

  it('a few left: each reservation spends one, so twenty workers do not spend the same one', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { rpm: 1_000 } };
    await a.learn('u1', { requests: { remaining: 2, resetAtMs: T0 + 5_000 } }, T0);
    expect((await a.reserve([member], 0, 'j1', 1_000, T0)).granted).toBe(true);
    expect((await b.reserve([member], 0, 'j2', 1_000, T0)).granted).toBe(true);
    expect(await a.reserve([member], 0, 'j3', 1_000, T0)).toEqual({ granted: false, waitMs: 5_000 });
  });

  it('answers arriving out of order within one window keep the smaller count left', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { rpm: 1_000 } };
    await a.learn('u1', { requests: { remaining: 1, resetAtMs: T0 + 1_000 } }, T0);
    // An older answer, its reset read a few ms apart: it does not give back spent requests.
    await b.learn('u1', { requests: { remaining: 6, resetAtMs: T0 + 990 } }, T0);
    expect((await a.reserve([member], 0, 'j1', 1_000, T0)).granted).toBe(true);
    expect((await a.reserve([member], 0, 'j2', 1_000, T0)).granted).toBe(false);
    // The next window's first answer counts afresh.
    await b.learn('u1', { requests: { remaining: 9, resetAtMs: T0 + 2_000 } }, T0 + 1_000);
    expect((await a.reserve([member], 0, 'j3', 1_000, T0 + 1_000)).granted).toBe(true);
  });

  it('retry-after keeps it out until then; a later, shorter one does not shorten it', async () => {
    const [a, b] = twoWorkers();
    const member = { label: 'u1', capacity: { maxConcurrency: 10 } };
    await a.learn('u1', { retryAtMs: T0 + 3_000 }, T0);
    await b.learn('u1', { retryAtMs: T0 + 1_000 }, T0);
    expect(await a.reserve([member], 0, 'j1', 1_000, T0)).toEqual({ granted: false, waitMs: 3_000 });
  });

  it('tokens left below the estimate wait for the tokens reset', async () => {
    const [a] = twoWorkers();
    const member = { label: 'u1', capacity: { maxConcurrency: 10 } };
    await a.learn('u1', { tokens: { remaining: 50, resetAtMs: T0 + 2_000 } }, T0);
    expect(await a.reserve([member], 40, 'small', 1_000, T0)).toMatchObject({ granted: true });
    expect(await a.reserve([member], 40, 'second', 1_000, T0)).toEqual({ granted: false, waitMs: 2_000 });
  });

  it('the group waits for the member whose room comes first', async () => {
    const [a] = twoWorkers();
    await a.learn('slow', { retryAtMs: T0 + 9_000 }, T0);
    await a.learn('soon', { retryAtMs: T0 + 2_000 }, T0);
    const members = [
      { label: 'slow', capacity: { rpm: 10 } },
      { label: 'soon', capacity: { rpm: 10 } },
    ];
    expect(await a.reserve(members, 0, 'j', 1_000, T0)).toEqual({ granted: false, waitMs: 2_000 });
  });
});

it('keeps nothing in Redis for long: every key expires', async () => {
  const [a] = twoWorkers();
  const member = { label: 'u1', capacity: { rpm: 10, maxConcurrency: 1 } };
  await a.learn('u1', { requests: { remaining: 5, resetAtMs: Date.now() + 1_000 } });
  await a.reserve([member], 10, 'j', 1_000);
  const keys = await redis.keys(`{capacity-${prefixes}}:*`);
  expect(keys.length).toBe(3);
  for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
});

/** Upstream settings for an UpstreamSet of one test; `file` routes by an UPSTREAMS_FILE. */
const upstreamConfig = (file?: string) => ({
  UPSTREAM_API_URL: file === undefined ? ['http://127.0.0.1:9/v1/chat/completions'] : [],
  UPSTREAMS_FILE: file,
  UPSTREAM_API_KEY: [],
  UPSTREAM_INCLUDE_USAGE: true,
  UPSTREAM_CONNECTIONS: 1,
  UPSTREAM_MAX_TRIES: 1,
  UPSTREAM_STREAM_RETRIES: 0,
  UPSTREAM_CONNECT_TIMEOUT_MS: 1000,
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: 1000,
  UPSTREAM_IDLE_TIMEOUT_MS: 1000,
  UPSTREAM_TOTAL_TIMEOUT_MS: 0,
  UPSTREAM_COOLDOWN_MS: 1000,
  UPSTREAM_COOLDOWN_MAX_MS: 1000,
});

describe('the share kept for interactive work', () => {
  it('background reservations stop at their share; interactive ones take the places kept', async () => {
    const [store] = twoWorkers();
    const file = join(mkdtempSync(join(tmpdir(), 'capacity-share-')), 'upstreams.yaml');
    writeFileSync(file, 'upstreams:\n  - url: http://127.0.0.1:9/v1\n    max_concurrency: 10\n');
    const upstreams = new UpstreamSet(upstreamConfig(file));
    try {
      const granted = async (lease: string, share: number) =>
        'upstream' in (await reserveInGroup(store, upstreams.all, 0, lease, 60_000, share));
      for (let i = 0; i < 8; i += 1) expect(await granted(`bg-${i}`, 0.8)).toBe(true);
      expect(await granted('bg-8', 0.8)).toBe(false);
      expect(await granted('person-1', 1)).toBe(true);
      expect(await granted('person-2', 1)).toBe(true);
      expect(await granted('person-3', 1)).toBe(false);
    } finally {
      await upstreams.close();
    }
  });
});

describe('a reservation Redis cannot make', () => {
  it('is a 503 queue_unavailable naming no address, not a bug of ours', async () => {
    const down = await startLocalRedis();
    const store = new CapacityStore(down.connect(), '{capacity-down}');
    await down.stop();
    const upstreams = new UpstreamSet(upstreamConfig());
    try {
      const refused = await reserveInGroup(store, upstreams.all, 0, 'j', 1_000).catch(
        (error: unknown) => error,
      );
      expect(isProxyError(refused)).toBe(true);
      expect(refused).toMatchObject({ status: 503, code: 'queue_unavailable', retryAfterSeconds: 2 });
      expect(String((refused as Error).message)).not.toMatch(/\d+\.\d+\.\d+\.\d+|sock/);
    } finally {
      store.close();
      await upstreams.close();
    }
  });
});

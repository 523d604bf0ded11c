import { createLogger, eventData, lifecycleEvent, queueNames, responsesApi } from '@openai-proxy/shared';
import { BackgroundStore, ChannelPubSub } from '@openai-proxy/shared/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder } from '../src/background/event-recorder.js';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

// Background responses in a real redis-server: what a gateway creates and cancels and a worker
// starts, appends to and ends, as every other process reads it.

let server: LocalRedis;
let redis: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startLocalRedis();
  redis = server.connect();
});
afterAll(() => server?.stop());

function newStore(ttlSeconds = 60) {
  prefixes += 1;
  const names = queueNames(`{bg-${prefixes}}`);
  return { store: new BackgroundStore(server.connect(), names, new ChannelPubSub(false), ttlSeconds), names };
}

const OBJECT = JSON.stringify({ id: 'resp_bg_1', object: 'response', status: 'queued', output: [] });
const queued = lifecycleEvent('response.queued', { id: 'resp_bg_1', status: 'queued' });
const delta = (text: string) =>
  eventData({ type: 'response.output_text.delta', sequence_number: 99, delta: text });

describe('the store', () => {
  it('numbers events 0, 1, 2, … whoever writes them, and reads after any sequence number', async () => {
    const { store } = newStore();
    await store.create('r1', 'owner', OBJECT, queued);
    expect(await store.start('r1')).toBe(1);
    expect(await store.append('r1', [delta('a'), delta('b')])).toBe(true);
    expect(await store.append('r1', [delta('c')])).toBe(true);
    const all = await store.events('r1', -1);
    expect(all.map((event) => event.sequence)).toEqual([0, 1, 2, 3]);
    // The number is in the data too, where the SDK reads it; the writer's own (99) is replaced.
    expect(
      all.map((event) => (JSON.parse(event.data) as { sequence_number: number }).sequence_number),
    ).toEqual([0, 1, 2, 3]);
    expect((await store.events('r1', 1)).map((event) => event.sequence)).toEqual([2, 3]);
    expect(await store.events('r1', 3)).toEqual([]);
    expect(await store.read('r1')).toEqual({ status: 'in_progress', owner: 'owner', object: OBJECT });
  });

  it('ends a response once: a cancelled one keeps its status, takes no more events, and the worker learns so', async () => {
    const { store } = newStore();
    await store.create('r2', '', OBJECT, queued);
    await store.start('r2');
    expect(await store.finish('r2', 'cancelled', undefined, undefined)).toEqual({
      changed: true,
      status: 'cancelled',
    });
    expect(await store.append('r2', [delta('late')])).toBe(false);
    const final = JSON.stringify({ id: 'resp_bg_1', status: 'completed' });
    expect(await store.finish('r2', 'completed', final, lifecycleEvent('response.completed', {}))).toEqual({
      changed: false,
      status: 'cancelled',
    });
    expect(await store.read('r2')).toMatchObject({ status: 'cancelled', object: OBJECT });
    expect((await store.events('r2', -1)).length).toBe(1);
    // A worker taking up an ended response has nothing to do.
    expect(await store.start('r2')).toBeUndefined();
  });

  it('keeps the final object and event, counts each end, and forgets a removed response', async () => {
    const { store } = newStore();
    await store.create('r3', '', OBJECT, queued);
    await store.create('r4', '', OBJECT, queued);
    await store.start('r3');
    const final = JSON.stringify({ id: 'resp_bg_1', status: 'completed' });
    expect(await store.finish('r3', 'completed', final, lifecycleEvent('response.completed', {}))).toEqual({
      changed: true,
      status: 'completed',
    });
    expect(await store.read('r3')).toMatchObject({ status: 'completed', object: final });
    expect((await store.events('r3', -1)).map((event) => event.sequence)).toEqual([0, 1]);
    expect(await store.counts()).toEqual({ running: 1, created: 2, completed: 1 });
    expect(await store.remove('r4')).toBe('queued');
    expect(await store.read('r4')).toBeUndefined();
    expect(await store.events('r4', -1)).toEqual([]);
    expect(await store.remove('r4')).toBeUndefined();
    expect(await store.counts()).toEqual({ running: 0, created: 2, completed: 1 });
  });

  it('keeps a response for its time to live after its last change', async () => {
    const { store, names } = newStore(30);
    await store.create('r5', '', OBJECT, queued);
    const ttl = await redis.pttl(names.backgroundKey('r5'));
    expect(ttl).toBeGreaterThan(29_000);
    expect(await redis.pttl(names.backgroundEventsKey('r5'))).toBeGreaterThan(29_000);
  });
});

describe('the worker’s event recorder', () => {
  it('keeps each event the fold takes, with our id in its response, in order, and stops once cancelled', async () => {
    const { store } = newStore();
    await store.create('resp_bg_2', '', OBJECT, queued);
    await store.start('resp_bg_2');
    const recorder = new EventRecorder(store, 'resp_bg_2', createLogger({ name: 'test', level: 'silent' }));
    const folder = recorder.recording(responsesApi.folder());
    const upstreamResponse = { id: 'resp_upstream', object: 'response', status: 'in_progress', output: [] };
    folder.take(JSON.stringify({ type: 'response.created', sequence_number: 0, response: upstreamResponse }));
    folder.take('');
    folder.take(JSON.stringify({ type: 'keepalive', sequence_number: 1 }));
    await recorder.written();
    const kept = await store.events('resp_bg_2', 0);
    expect(kept.map((event) => JSON.parse(event.data))).toEqual([
      {
        type: 'response.created',
        sequence_number: 1,
        response: { ...upstreamResponse, id: 'resp_bg_2', background: true },
      },
      { type: 'keepalive', sequence_number: 2 },
    ]);
    expect(recorder.latest).toMatchObject({ id: 'resp_bg_2', background: true });
    await store.finish('resp_bg_2', 'cancelled', undefined, undefined);
    folder.take(JSON.stringify({ type: 'response.in_progress', response: upstreamResponse }));
    await recorder.written();
    expect((await store.events('resp_bg_2', -1)).length).toBe(3);
  });
});

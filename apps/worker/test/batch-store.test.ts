import { setTimeout as sleep } from 'node:timers/promises';
import { type BatchSpec, type FileObject, queueNames } from '@openai-proxy/shared';
import { BatchStore, FileStore } from '@openai-proxy/shared/redis';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRedis, startLocalRedis } from './local-redis.js';

// Batches and the metadata of /v1/files in a real redis-server: what a gateway creates, lists
// and cancels, and a worker moves through its steps and fills line by line.

let server: LocalRedis;
let redis: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startLocalRedis();
  redis = server.connect();
});
afterAll(() => server?.stop());

/** Stores under a prefix of their own, so that the counts and listings of one test are its own. */
function newStores() {
  prefixes += 1;
  const names = queueNames(`{batch-${prefixes}}`);
  return {
    batches: new BatchStore(server.connect(), names),
    files: new FileStore(server.connect(), names),
    names,
  };
}

const spec = (id: string, createdAt = 1_800_000_000): BatchSpec => ({
  id,
  endpoint: '/v1/chat/completions',
  input_file_id: 'file-input',
  completion_window: '24h',
  created_at: createdAt,
  expires_at: createdAt + 86_400,
  metadata: { project: 'tests' },
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Listings are by creation time in milliseconds: a pause keeps two creations apart. */
const nextMillisecond = () => sleep(2);

describe('BatchStore', () => {
  it('keeps a new batch validating, with no counts, for its owner only', async () => {
    const { batches } = newStores();
    await batches.create(spec('batch_1'), 'alice', '{"key":"sk-client"}');
    const expected = {
      ...spec('batch_1'),
      object: 'batch',
      status: 'validating',
      errors: null,
      output_file_id: null,
      error_file_id: null,
      in_progress_at: null,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
    };
    expect(await batches.get('batch_1', 'alice')).toEqual(expected);
    expect(await batches.get('batch_1')).toEqual(expected);
    expect(await batches.get('batch_1', 'bob')).toBeUndefined();
    expect(await batches.get('batch_2', 'alice')).toBeUndefined();
    expect(await batches.access('batch_1')).toEqual({ owner: 'alice', credential: '{"key":"sk-client"}' });
    await batches.create(spec('batch_2'), '', undefined);
    expect(await batches.access('batch_2')).toEqual({ owner: '', credential: undefined });
    expect(await batches.get('batch_2', '')).toMatchObject({ id: 'batch_2' });
    expect(await batches.access('batch_3')).toBeUndefined();
  });

  it('shows the fields a worker sets: total, model, file ids, errors', async () => {
    const { batches } = newStores();
    await batches.create(spec('batch_1'), 'alice', undefined);
    const errors = [{ code: 'empty_file', line: null, message: 'No requests.', param: null }];
    await batches.set('batch_1', {
      total: 4,
      model: 'gpt-4o-mini',
      output_file_id: 'file-out',
      error_file_id: 'file-err',
      errors: JSON.stringify(errors),
    });
    expect(await batches.get('batch_1', 'alice')).toMatchObject({
      request_counts: { total: 4, completed: 0, failed: 0 },
      model: 'gpt-4o-mini',
      output_file_id: 'file-out',
      error_file_id: 'file-err',
      errors: { object: 'list', data: errors },
    });
    expect(await batches.field('batch_1', 'model')).toBe('gpt-4o-mini');
    expect(await batches.field('batch_1', 'nothing')).toBeUndefined();
  });

  it('moves a batch only from the statuses given, once, and stamps the time of the new one', async () => {
    const { batches } = newStores();
    await batches.create(spec('batch_1'), 'alice', undefined);
    const before = nowSeconds();
    expect(await batches.move('batch_1', 'cancelling', ['validating', 'in_progress'])).toEqual({
      moved: true,
      status: 'cancelling',
    });
    const after = nowSeconds();
    expect(await batches.move('batch_1', 'cancelling', ['validating', 'in_progress'])).toEqual({
      moved: false,
      status: 'cancelling',
    });
    // A worker's step does not undo the cancel.
    expect(await batches.move('batch_1', 'in_progress', ['validating'])).toEqual({
      moved: false,
      status: 'cancelling',
    });
    const cancelling = await batches.get('batch_1');
    expect(cancelling?.status).toBe('cancelling');
    expect(cancelling?.cancelling_at).toBeGreaterThanOrEqual(before);
    expect(cancelling?.cancelling_at).toBeLessThanOrEqual(after);
    expect(cancelling?.in_progress_at).toBeNull();

    await batches.create(spec('batch_2'), 'alice', undefined);
    expect((await batches.move('batch_2', 'in_progress', ['validating']))?.moved).toBe(true);
    expect((await batches.move('batch_2', 'finalizing', ['in_progress', 'cancelling']))?.moved).toBe(true);
    expect((await batches.move('batch_2', 'completed', ['finalizing']))?.moved).toBe(true);
    // Ended is ended: no move leads back.
    for (const [to, from] of [
      ['in_progress', ['validating', 'in_progress', 'finalizing']],
      ['cancelling', ['validating', 'in_progress']],
      ['failed', ['validating', 'in_progress', 'finalizing']],
    ] as const)
      expect(await batches.move('batch_2', to, from)).toEqual({ moved: false, status: 'completed' });
    const completed = await batches.get('batch_2');
    expect(completed).toMatchObject({ status: 'completed', cancelling_at: null, failed_at: null });
    for (const field of ['in_progress_at', 'finalizing_at', 'completed_at'] as const)
      expect(completed?.[field]).toBeGreaterThanOrEqual(before);

    expect(await batches.move('batch_none', 'cancelling', ['validating'])).toBeUndefined();
  });

  it("keeps each line's result once, and says last once every line ended and all were queued", async () => {
    const { batches } = newStores();
    await batches.create(spec('batch_1'), 'alice', undefined);
    await batches.set('batch_1', { total: 3 });
    expect(await batches.recordLine('batch_1', 1, 'completed', 'o-first')).toEqual({
      kept: true,
      last: false,
    });
    // The same line run again (its worker was lost) changes nothing.
    expect(await batches.recordLine('batch_1', 1, 'failed', 'e-again')).toEqual({ kept: false, last: false });
    expect((await batches.get('batch_1'))?.request_counts).toEqual({ total: 3, completed: 1, failed: 0 });
    expect(await batches.recordLine('batch_1', 2, 'failed', 'e-second')).toEqual({ kept: true, last: false });
    await batches.set('batch_1', { queued: 1 });
    expect(await batches.recordLine('batch_1', 3, 'skipped', 'e-third')).toEqual({ kept: true, last: true });
    expect(await batches.recordLine('batch_1', 3, 'skipped', 'e-third')).toEqual({
      kept: false,
      last: false,
    });
    expect((await batches.get('batch_1'))?.request_counts).toEqual({ total: 3, completed: 1, failed: 1 });
    expect(await batches.field('batch_1', 'skipped')).toBe('1');
    const results: [number, string][] = [];
    for await (const result of batches.results('batch_1')) results.push(result);
    expect(results.sort(([a], [b]) => a - b)).toEqual([
      [1, 'o-first'],
      [2, 'e-second'],
      [3, 'e-third'],
    ]);
    await batches.dropResults('batch_1');
    const dropped: [number, string][] = [];
    for await (const result of batches.results('batch_1')) dropped.push(result);
    expect(dropped).toEqual([]);
  });

  it('does not say last while lines are still being queued, even when every line so far ended', async () => {
    const { batches } = newStores();
    await batches.create(spec('batch_1'), 'alice', undefined);
    await batches.set('batch_1', { total: 2 });
    expect(await batches.recordLine('batch_1', 1, 'completed', 'o-1')).toEqual({ kept: true, last: false });
    expect(await batches.recordLine('batch_1', 2, 'completed', 'o-2')).toEqual({ kept: true, last: false });
    // Only '1' means queued: any other value is not.
    await batches.set('batch_1', { total: 3, queued: 0 });
    expect(await batches.recordLine('batch_1', 3, 'completed', 'o-3')).toEqual({ kept: true, last: false });
    expect((await batches.get('batch_1'))?.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
  });

  it('reads back every result of a large batch, over several pages', async () => {
    const { batches } = newStores();
    await batches.create(spec('batch_1'), 'alice', undefined);
    const lines = Array.from({ length: 2_500 }, (_, index) => index + 1);
    await Promise.all(lines.map((line) => batches.recordLine('batch_1', line, 'completed', `o-${line}`)));
    const seen = new Map<number, string>();
    for await (const [line, text] of batches.results('batch_1')) seen.set(line, text);
    expect(seen.size).toBe(2_500);
    expect(lines.every((line) => seen.get(line) === `o-${line}`)).toBe(true);
    expect((await batches.get('batch_1'))?.request_counts.completed).toBe(2_500);
  });

  it('keeps the first value set once', async () => {
    const { batches } = newStores();
    await batches.create(spec('batch_1'), 'alice', undefined);
    expect(await batches.setOnce('batch_1', 'final_status', 'cancelled')).toBe('cancelled');
    expect(await batches.setOnce('batch_1', 'final_status', 'completed')).toBe('cancelled');
    expect(await batches.field('batch_1', 'final_status')).toBe('cancelled');
  });

  it('counts and lists the active batches, oldest first, until they end', async () => {
    const { batches } = newStores();
    // Created in another order than their creation times, which the active list goes by.
    await batches.create(spec('batch_b', 1_800_000_200), 'alice', undefined);
    await batches.create(spec('batch_a', 1_800_000_300), 'bob', undefined);
    await batches.create(spec('batch_c', 1_800_000_100), 'alice', undefined);
    for (let created = 0; created < 3; created += 1) await batches.count('created');
    expect(await batches.counts()).toEqual({ active: 3, created: 3 });
    expect((await batches.active(10)).map((batch) => batch.id)).toEqual(['batch_c', 'batch_b', 'batch_a']);
    expect((await batches.active(2)).map((batch) => batch.id)).toEqual(['batch_c', 'batch_b']);

    // Cancelling has not ended yet; cancelled has, and so has failed.
    await batches.move('batch_c', 'cancelling', ['validating']);
    expect((await batches.active(10)).map((batch) => batch.id)).toEqual(['batch_c', 'batch_b', 'batch_a']);
    await batches.move('batch_c', 'cancelled', ['cancelling']);
    await batches.count('cancelled');
    await batches.move('batch_a', 'failed', ['validating']);
    await batches.count('failed');
    expect((await batches.active(10)).map((batch) => batch.id)).toEqual(['batch_b']);
    expect(await batches.counts()).toEqual({ active: 1, created: 3, cancelled: 1, failed: 1 });
  });

  it("lists an owner's batches newest first, a page at a time", async () => {
    const { batches } = newStores();
    // Named against their order, so that the listing cannot be by name.
    for (const id of ['batch_e', 'batch_d', 'batch_c', 'batch_b', 'batch_a']) {
      await batches.create(spec(id), 'alice', undefined);
      await nextMillisecond();
    }
    await batches.create(spec('batch_bob'), 'bob', undefined);
    const ids = (listed: { data: { id: string }[] }) => listed.data.map((batch) => batch.id);

    const first = await batches.list('alice', { limit: 2 });
    expect(first).toMatchObject({ object: 'list', first_id: 'batch_a', last_id: 'batch_b', has_more: true });
    expect(ids(first)).toEqual(['batch_a', 'batch_b']);
    expect(first.data[0]).toMatchObject({ object: 'batch', status: 'validating' });
    const second = await batches.list('alice', { limit: 2, after: 'batch_b' });
    expect(ids(second)).toEqual(['batch_c', 'batch_d']);
    expect(second.has_more).toBe(true);
    const third = await batches.list('alice', { limit: 2, after: 'batch_d' });
    expect(ids(third)).toEqual(['batch_e']);
    expect(third.has_more).toBe(false);

    const whole = await batches.list('alice', { limit: 5 });
    expect(ids(whole)).toEqual(['batch_a', 'batch_b', 'batch_c', 'batch_d', 'batch_e']);
    expect(whole.has_more).toBe(false);
    expect(ids(await batches.list('bob', { limit: 10 }))).toEqual(['batch_bob']);
    expect(await batches.list('carol', { limit: 10 })).toEqual({
      object: 'list',
      data: [],
      first_id: null,
      last_id: null,
      has_more: false,
    });
    // After an id that is not the owner's: nothing, not the first page again.
    expect(ids(await batches.list('alice', { limit: 10, after: 'batch_bob' }))).toEqual([]);
  });
});

describe('FileStore', () => {
  const fileObject = (id: string, purpose: string): FileObject => ({
    id,
    object: 'file',
    bytes: 100,
    created_at: 1_800_000_000,
    filename: `${id}.jsonl`,
    purpose,
    status: 'processed',
  });

  /** Files e, d, c, b, a, created in that order (named against it), purposes batch and batch_output in turn. */
  async function fiveFiles(files: FileStore) {
    const purposes = ['batch', 'batch_output', 'batch', 'batch_output', 'batch'];
    const created = ['file-e', 'file-d', 'file-c', 'file-b', 'file-a'];
    for (const [index, id] of created.entries()) {
      await files.add(fileObject(id, purposes[index] as string), 'alice');
      await nextMillisecond();
    }
  }
  const ids = (listed: { data: { id: string }[] }) => listed.data.map((file) => file.id);

  it('keeps a file for its owner only, and forgets a removed one', async () => {
    const { files, names } = newStores();
    await files.add(fileObject('file-1', 'batch'), 'alice');
    await files.add(fileObject('file-2', 'batch'), '');
    expect(await files.get('file-1', 'alice')).toEqual(fileObject('file-1', 'batch'));
    expect(await files.get('file-1', 'bob')).toBeUndefined();
    expect(await files.get('file-1', '')).toBeUndefined();
    expect(await files.get('file-2', '')).toEqual(fileObject('file-2', 'batch'));
    expect(await files.get('file-3', 'alice')).toBeUndefined();
    await files.remove('file-1', 'alice');
    expect(await files.get('file-1', 'alice')).toBeUndefined();
    expect(await redis.exists(names.fileKey('file-1'))).toBe(0);
    expect(ids(await files.list('alice', { limit: 10, order: 'desc' }))).toEqual([]);
    expect(ids(await files.list('', { limit: 10, order: 'desc' }))).toEqual(['file-2']);
  });

  it('lists newest first or oldest first, a page at a time', async () => {
    const { files } = newStores();
    await fiveFiles(files);
    await files.add(fileObject('file-bob', 'batch'), 'bob');

    const newest = await files.list('alice', { limit: 2, order: 'desc' });
    expect(newest).toMatchObject({ object: 'list', first_id: 'file-a', last_id: 'file-b', has_more: true });
    expect(ids(newest)).toEqual(['file-a', 'file-b']);
    expect(newest.data[0]).toEqual(fileObject('file-a', 'batch'));
    const next = await files.list('alice', { limit: 2, order: 'desc', after: 'file-b' });
    expect(ids(next)).toEqual(['file-c', 'file-d']);
    expect(next.has_more).toBe(true);
    const last = await files.list('alice', { limit: 2, order: 'desc', after: 'file-d' });
    expect(ids(last)).toEqual(['file-e']);
    expect(last.has_more).toBe(false);

    const oldest = await files.list('alice', { limit: 3, order: 'asc' });
    expect(ids(oldest)).toEqual(['file-e', 'file-d', 'file-c']);
    expect(oldest.has_more).toBe(true);
    const rest = await files.list('alice', { limit: 3, order: 'asc', after: 'file-c' });
    expect(ids(rest)).toEqual(['file-b', 'file-a']);
    expect(rest.has_more).toBe(false);

    expect(ids(await files.list('alice', { limit: 5, order: 'desc' }))).toHaveLength(5);
    expect((await files.list('alice', { limit: 5, order: 'desc' })).has_more).toBe(false);
    expect(ids(await files.list('bob', { limit: 10, order: 'asc' }))).toEqual(['file-bob']);
    expect(ids(await files.list('alice', { limit: 10, order: 'desc', after: 'file-bob' }))).toEqual([]);
  });

  it('lists the files of one purpose only', async () => {
    const { files } = newStores();
    await fiveFiles(files);
    const batch = await files.list('alice', { limit: 2, order: 'desc', purpose: 'batch' });
    expect(ids(batch)).toEqual(['file-a', 'file-c']);
    expect(batch).toMatchObject({ first_id: 'file-a', last_id: 'file-c', has_more: true });
    const rest = await files.list('alice', { limit: 2, order: 'desc', purpose: 'batch', after: 'file-c' });
    expect(ids(rest)).toEqual(['file-e']);
    expect(rest.has_more).toBe(false);
    expect(ids(await files.list('alice', { limit: 10, order: 'asc', purpose: 'batch_output' }))).toEqual([
      'file-d',
      'file-b',
    ]);
    expect(ids(await files.list('alice', { limit: 10, order: 'asc', purpose: 'fine-tune' }))).toEqual([]);
  });

  it('pages a purpose through many files of another: full pages, a true has_more, none lost', async () => {
    const { files } = newStores();
    // One old `batch` file under twelve newer `batch_output` ones: beyond the first window read.
    await files.add(fileObject('file-old', 'batch'), 'dave');
    await nextMillisecond();
    for (let index = 0; index < 12; index += 1) {
      await files.add(fileObject(`file-out-${index}`, 'batch_output'), 'dave');
      await nextMillisecond();
    }
    const one = await files.list('dave', { limit: 1, order: 'desc', purpose: 'batch' });
    expect(ids(one)).toEqual(['file-old']);
    expect(one.has_more).toBe(false);
    const outputs = await files.list('dave', { limit: 12, order: 'desc', purpose: 'batch_output' });
    expect(outputs.data).toHaveLength(12);
    expect(outputs.has_more).toBe(false);
  });
});

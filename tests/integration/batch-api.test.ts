import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson } from './support/http.js';
import { startS3Server, type TestS3Server } from './support/s3-server.js';

// OpenAI's Batch API on any upstream, the official SDK as the client, real gateway, worker farm,
// Redis and mock upstream, with the files on disk and in an S3-compatible server (s3rver, from npm:
// PyPI's moto is out of this machine's reach): every custom_id answered once, each body the same as
// the plain non-stream answer to the same request.

const KEY = 'sk-batch-owner';
const OTHER_KEY = 'sk-batch-other';
const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

let redis: TestRedis;
let upstream: MockUpstream;
let s3: TestS3Server;
const dirs: string[] = [];

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'batch' })]);
  s3 = await startS3Server('batch-files');
}, 30_000);

afterAll(async () => {
  await Promise.all([upstream?.close(), redis?.stop(), s3?.close()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

type Line = { custom_id: string; method: string; url: string; body: Record<string, unknown> };
const jsonl = (lines: unknown[]) =>
  `${lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')}\n`;

/** What must match between two answers to the same request: all but the ids and times each call makes up. */
const comparable = (body: unknown) =>
  JSON.parse(
    JSON.stringify(body).replace(
      /"(id|created|created_at|completed_at)":("(?:[^"\\]|\\.)*"|\d+)/g,
      '"$1":"<made up>"',
    ),
  ) as unknown;

async function settled(client: OpenAI, id: string, timeoutMs = 60_000): Promise<Batch> {
  let batch = await client.batches.retrieve(id);
  const deadline = Date.now() + timeoutMs;
  while (!FINAL.has(batch.status) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    batch = await client.batches.retrieve(id);
  }
  return batch;
}

async function fileLines(client: OpenAI, id: string | null | undefined): Promise<Record<string, unknown>[]> {
  if (id === null || id === undefined) return [];
  const text = await (await client.files.content(id)).text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.each([{ storage: 'disk' }, { storage: 's3' }])(
  'the Batch API with files on $storage',
  ({ storage }) => {
    let gateway: AppProcess;
    let worker: AppProcess;
    let client: OpenAI;

    beforeAll(async () => {
      const filesDir = mkdtempSync(join(tmpdir(), 'oaip-files-'));
      dirs.push(filesDir);
      const env: Record<string, string> = {
        UPSTREAM_API_URL: upstream.chatUrl,
        REDIS_URL: redis.url,
        QUEUE_PREFIX: `{batch-${storage}-${process.pid}}`,
        UPSTREAM_STREAM_RETRIES: '0',
        GATEWAY_API_KEYS: `${KEY},${OTHER_KEY}`,
        LOG_LEVEL: 'warn',
        ...(storage === 'disk'
          ? { FILES_DIR: filesDir }
          : {
              FILES_S3_BUCKET: 'batch-files',
              FILES_S3_ENDPOINT: s3.endpoint,
              FILES_S3_FORCE_PATH_STYLE: 'true',
              FILES_S3_PREFIX: 'proxy/',
              AWS_ACCESS_KEY_ID: 'S3RVER',
              AWS_SECRET_ACCESS_KEY: 'S3RVER',
            }),
      };
      [gateway, worker] = await Promise.all([
        startApp('gateway', env, { waitFor: null }),
        startApp('worker', { ...env, WORKER_PROCESSES: '1' }, { waitFor: null }),
      ]);
      for (const app of [gateway, worker])
        await eventually(
          () =>
            fetch(`${app.url}/health`).then(
              (r) => r.ok,
              () => false,
            ),
          15_000,
        );
      client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
    }, 30_000);

    afterAll(async () => {
      await Promise.all([gateway?.stop(), worker?.stop()]);
    });

    it('2,000 lines over chat, completions and Responses, with upstream errors and cut streams: each custom_id once, each answer the plain one', async () => {
      const endpoints = [
        {
          url: '/v1/chat/completions',
          count: 1_000,
          body: (text: string) => ({ model: 'mock-model', messages: [{ role: 'user', content: text }] }),
        },
        {
          url: '/v1/completions',
          count: 500,
          body: (text: string) => ({ model: 'mock-model', prompt: text }),
        },
        { url: '/v1/responses', count: 500, body: (text: string) => ({ model: 'mock-model', input: text }) },
      ] as const;
      for (const endpoint of endpoints) {
        const lines: Line[] = Array.from({ length: endpoint.count }, (_unused, index) => {
          const body: Record<string, unknown> = endpoint.body(`line ${index} of ${endpoint.url}`);
          if (index % 50 === 7) body.mock_behavior = { kind: 'status', status: 500 };
          if (index % 50 === 31) body.mock_behavior = { kind: 'drop', afterChunks: 2 };
          return { custom_id: `${endpoint.url}#${index}`, method: 'POST', url: endpoint.url, body };
        });
        const input = await client.files.create({
          file: await toFile(Buffer.from(jsonl(lines)), 'input.jsonl'),
          purpose: 'batch',
        });
        expect(input).toMatchObject({ object: 'file', purpose: 'batch', filename: 'input.jsonl' });
        const created = await client.batches.create({
          input_file_id: input.id,
          endpoint: endpoint.url,
          completion_window: '24h',
          metadata: { run: 'mixed' },
        });
        expect(created.status).toBe('validating');
        const batch = await settled(client, created.id);
        expect(batch.status).toBe('completed');
        expect(batch.metadata).toEqual({ run: 'mixed' });
        const output = await fileLines(client, batch.output_file_id);
        const errors = await fileLines(client, batch.error_file_id);
        const failing = lines.filter((line) => line.body.mock_behavior !== undefined).length;
        expect(batch.request_counts).toEqual({
          total: endpoint.count,
          completed: endpoint.count - failing,
          failed: failing,
        });
        expect(output).toHaveLength(endpoint.count - failing);
        expect(errors).toHaveLength(failing);
        // Every custom_id exactly once across the two files.
        const ids = [...output, ...errors].map((line) => line.custom_id as string).sort();
        expect(ids).toEqual(lines.map((line) => line.custom_id).sort());
        // Each answer as the plain non-stream call to the same request gives it.
        const byId = new Map(lines.map((line) => [line.custom_id, line]));
        for (const result of [...output, ...errors]) {
          const line = byId.get(result.custom_id as string) as Line;
          const plain = await postJson(`${gateway.url}${endpoint.url}`, line.body, {
            authorization: `Bearer ${KEY}`,
          });
          const response = result.response as { status_code: number; body: unknown; request_id: string };
          expect(response.status_code).toBe(plain.status);
          expect(comparable(response.body)).toEqual(comparable(plain.json));
          expect(result.id).toBe(response.request_id);
          if (plain.status === 200) expect(result.error).toBeNull();
          else expect((result.error as { code: string }).code).toBe(plain.json.error?.code);
        }
      }
    }, 180_000);

    it('a bad input file fails the batch with its problems by line, before any request runs', async () => {
      const good = (id: string, model = 'mock-model') => ({
        custom_id: id,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model, messages: [{ role: 'user', content: 'x' }] },
      });
      const callsBefore = upstream.stats.requests;
      const text = jsonl([
        good('a'),
        '{"custom_id": "b", "method": ',
        good('a'),
        { ...good('c'), url: '/v1/responses' },
        { ...good('d'), method: 'GET' },
        { custom_id: 'e', method: 'POST', url: '/v1/chat/completions', body: { messages: [] } },
        good('f', 'another-model'),
        { method: 'POST', url: '/v1/chat/completions', body: good('g').body },
      ]);
      const input = await client.files.create({
        file: await toFile(Buffer.from(text), 'bad.jsonl'),
        purpose: 'batch',
      });
      const created = await client.batches.create({
        input_file_id: input.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      const batch = await settled(client, created.id);
      expect(batch.status).toBe('failed');
      expect(batch.failed_at).toBeTypeOf('number');
      expect(batch.errors?.data?.map(({ code, line }) => [line, code])).toEqual([
        [2, 'invalid_json_line'],
        [3, 'duplicate_custom_id'],
        [4, 'mismatched_endpoint'],
        [5, 'invalid_method'],
        [6, 'missing_required_parameter'],
        [7, 'mismatched_model'],
        [8, 'missing_required_parameter'],
      ]);
      expect(batch.errors?.data?.[4]?.param).toBe('body.model');
      expect(upstream.stats.requests).toBe(callsBefore);
    });

    it('cancel mid-way: cancelling, then cancelled with the partial output; every custom_id once', async () => {
      // Far more lines than the farm runs at once (WORKER_CONCURRENCY 256): most have not started at the cancel.
      const lines: Line[] = Array.from({ length: 1_500 }, (_unused, index) => ({
        custom_id: `slow-${index}`,
        method: 'POST',
        url: '/v1/chat/completions',
        // About 1.2 s each: 12 events 100 ms apart.
        body: {
          model: 'mock-model',
          messages: [{ role: 'user', content: `slow ${index}` }],
          mock_behavior: { kind: 'echo', chunkDelayMs: 100 },
        },
      }));
      const input = await client.files.create({
        file: await toFile(Buffer.from(jsonl(lines)), 'slow.jsonl'),
        purpose: 'batch',
      });
      const created = await client.batches.create({
        input_file_id: input.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      await eventually(
        async () => ((await client.batches.retrieve(created.id)).request_counts?.completed ?? 0) >= 20,
        30_000,
        100,
      );
      const cancelling = await client.batches.cancel(created.id);
      expect(['cancelling', 'cancelled']).toContain(cancelling.status);
      const batch = await settled(client, created.id);
      expect(batch.status).toBe('cancelled');
      expect(batch.cancelled_at).toBeTypeOf('number');
      const output = await fileLines(client, batch.output_file_id);
      const errors = await fileLines(client, batch.error_file_id);
      expect(output.length).toBeGreaterThanOrEqual(20);
      expect(output.length).toBeLessThan(lines.length);
      expect(errors.every((line) => (line.error as { code: string }).code === 'batch_cancelled')).toBe(true);
      expect([...output, ...errors].map((line) => line.custom_id).sort()).toEqual(
        lines.map((line) => line.custom_id).sort(),
      );
      // Cancelling an ended batch changes nothing.
      expect((await client.batches.cancel(created.id)).status).toBe('cancelled');
    }, 120_000);

    it('a batch cancelled while its file is being checked ends, cancelled or failed, never stuck', async () => {
      const lines = Array.from({ length: 20_000 }, (_unused, index) =>
        JSON.stringify({
          custom_id: `c-${index}`,
          method: 'POST',
          url: '/v1/completions',
          body: { model: 'mock-model', prompt: `p ${index}` },
        }),
      );
      for (const tail of ['', '{"custom_id": "broken", ']) {
        const input = await client.files.create({
          file: await toFile(Buffer.from(`${lines.join('\n')}\n${tail}`), 'big.jsonl'),
          purpose: 'batch',
        });
        const created = await client.batches.create({
          input_file_id: input.id,
          endpoint: '/v1/completions',
          completion_window: '24h',
        });
        await client.batches.cancel(created.id);
        const batch = await settled(client, created.id);
        expect(tail === '' ? ['cancelled'] : ['cancelled', 'failed']).toContain(batch.status);
        const output = await fileLines(client, batch.output_file_id);
        const errors = await fileLines(client, batch.error_file_id);
        expect(new Set([...output, ...errors].map((line) => line.custom_id)).size).toBe(
          output.length + errors.length,
        );
      }
    }, 120_000);

    it('files and batches belong to their key; lists page; a deleted file is gone', async () => {
      const input = await client.files.create({
        file: await toFile(
          Buffer.from(
            jsonl([
              {
                custom_id: 'x',
                method: 'POST',
                url: '/v1/completions',
                body: { model: 'mock-model', prompt: 'p' },
              },
            ]),
          ),
          'one.jsonl',
        ),
        purpose: 'batch',
      });
      const created = await client.batches.create({
        input_file_id: input.id,
        endpoint: '/v1/completions',
        completion_window: '24h',
      });
      const other = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: OTHER_KEY, maxRetries: 0 });
      await expect(other.files.retrieve(input.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      await expect(other.files.content(input.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      await expect(other.batches.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      await expect(
        other.batches.create({
          input_file_id: input.id,
          endpoint: '/v1/completions',
          completion_window: '24h',
        }),
      ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      expect((await other.batches.list()).data).toEqual([]);
      expect((await client.files.retrieve(input.id)).bytes).toBe(input.bytes);
      // Newest first, two a page, each once.
      const later = [];
      for (let i = 0; i < 2; i += 1)
        later.push(
          await client.batches.create({
            input_file_id: input.id,
            endpoint: '/v1/completions',
            completion_window: '24h',
          }),
        );
      const listed = [];
      for await (const batch of client.batches.list({ limit: 2 })) listed.push(batch.id);
      expect(listed.slice(0, 3)).toEqual([later[1]?.id, later[0]?.id, created.id]);
      expect(new Set(listed).size).toBe(listed.length);
      const files = [];
      for await (const file of client.files.list({ purpose: 'batch', limit: 3 })) files.push(file.id);
      expect(files).toContain(input.id);
      await settled(client, created.id);
      expect(await client.files.delete(input.id)).toEqual({ id: input.id, object: 'file', deleted: true });
      await expect(client.files.retrieve(input.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });
  },
);

it('a standalone gateway refuses batches and files with a 400 that says they need queue mode', async () => {
  const standalone = await startApp(
    'gateway',
    { UPSTREAM_API_URL: upstream.chatUrl, LOG_LEVEL: 'warn' },
    { waitFor: null },
  );
  try {
    await eventually(
      () =>
        fetch(`${standalone.url}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      15_000,
    );
    const answer = await postJson(`${standalone.url}/v1/batches`, {
      input_file_id: 'file-x',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error?.message).toContain('queue mode');
    const files = await fetch(`${standalone.url}/v1/files`);
    expect(files.status).toBe(400);
  } finally {
    await standalone.stop();
  }
});

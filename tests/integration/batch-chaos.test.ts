import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, startRedis, type TestRedis } from '@openai-proxy/test-support';
import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chaosEnv, Processes } from './support/chaos/stack.js';
import { eventually } from './support/http.js';
import { readyWorkerPids } from './support/worker-pids.js';

// A batch outlives the processes around it: a worker process and the gateway SIGKILLed in the
// middle, then Redis SIGKILLed and restarted on its append-only file. The batch resumes where it
// was; its files name every custom_id once, each with its own answer; the upstream was asked for
// each line at most twice (once more only for lines the killed worker held).

const LINES = 600;
const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

let redis: TestRedis;
let upstream: MockUpstream;
const processes = new Processes();
const dirs: string[] = [];

beforeAll(async () => {
  const aof = mkdtempSync(join(tmpdir(), 'oaip-batch-aof-'));
  dirs.push(aof);
  [redis, upstream] = await Promise.all([
    startRedis({ appendOnlyDir: aof }),
    startMockUpstream({ name: 'batch-chaos' }),
  ]);
});
afterAll(async () => {
  await processes.killAll();
  await Promise.all([upstream.close(), redis.stop()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function inputFile(name: string): string {
  return Array.from({ length: LINES }, (_unused, index) =>
    JSON.stringify({
      custom_id: `${name}-${index}`,
      method: 'POST',
      url: '/v1/chat/completions',
      // About 0.6 s each: 12 events 50 ms apart.
      body: {
        model: 'mock-model',
        messages: [{ role: 'user', content: `${name} ${index}` }],
        mock_behavior: { kind: 'echo', chunkDelayMs: 50 },
      },
    }),
  ).join('\n');
}

async function startBatch(client: OpenAI, name: string): Promise<string> {
  const file = await client.files.create({
    file: await toFile(Buffer.from(inputFile(name)), `${name}.jsonl`),
    purpose: 'batch',
  });
  const batch = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  return batch.id;
}

async function completed(client: OpenAI, id: string): Promise<Batch> {
  let batch = await client.batches.retrieve(id);
  await eventually(
    async () => {
      batch = await client.batches.retrieve(id);
      return FINAL.has(batch.status);
    },
    90_000,
    250,
  );
  return batch;
}

/** Every line once, each answered with its own echo. */
async function expectWhole(client: OpenAI, batch: Batch, name: string): Promise<void> {
  expect(batch.status).toBe('completed');
  expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
  expect(batch.error_file_id ?? null).toBeNull();
  const text = await (await client.files.content(batch.output_file_id as string)).text();
  const lines = text
    .split('\n')
    .filter((line) => line !== '')
    .map(
      (line) =>
        JSON.parse(line) as {
          custom_id: string;
          response: { body: { choices: { message: { content: string } }[] } };
        },
    );
  expect(lines.map((line) => line.custom_id).sort()).toEqual(
    Array.from({ length: LINES }, (_u, i) => `${name}-${i}`).sort(),
  );
  for (const line of lines) {
    const index = line.custom_id.slice(name.length + 1);
    expect(line.response.body.choices[0]?.message.content).toBe(`echo: ${name} ${index}`);
  }
}

it('a worker process and the gateway SIGKILLed mid-batch, then Redis restarted on its AOF: the batch resumes, every line once', async () => {
  const files = mkdtempSync(join(tmpdir(), 'oaip-batch-files-'));
  dirs.push(files);
  const env = chaosEnv('batch', redis.url, [upstream], {
    WORKER_PROCESSES: '1',
    WORKER_CONCURRENCY: '50',
    FILES_DIR: files,
    REQUEST_TIMEOUT_MS: '60000',
  });
  const farm = await processes.start('worker', env);
  let gateway: AppProcess = await processes.start('gateway', env);
  let client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 2 });
  const before = upstream.stats.requests;
  const id = await startBatch(client, 'kill');
  await eventually(
    async () => ((await client.batches.retrieve(id)).request_counts?.completed ?? 0) >= 100,
    30_000,
    100,
  );

  // The worker process holding ~50 lines, and the gateway, at once.
  const [workerPid] = readyWorkerPids(farm);
  process.kill(workerPid as number, 'SIGKILL');
  await gateway.stop('SIGKILL');
  gateway = await processes.start('gateway', env);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 2 });
  await eventually(
    async () => ((await client.batches.retrieve(id)).request_counts?.completed ?? 0) >= 300,
    60_000,
    100,
  );

  // Redis, with every write on its append-only file.
  await redis.stop('SIGKILL');
  await redis.start();

  const batch = await completed(client, id);
  await expectWhole(client, batch, 'kill');
  // Asked again only for the lines in flight at a kill: the killed worker's, and those whose result met Redis away.
  const calls = upstream.stats.requests - before;
  console.log(`[batch-chaos] ${LINES} lines | worker, gateway and Redis killed | upstream calls ${calls}`);
  // The kill hit lines mid-call: they were asked again, and written once.
  expect(calls).toBeGreaterThan(LINES);
  expect(calls).toBeLessThanOrEqual(LINES + 100);
}, 180_000);

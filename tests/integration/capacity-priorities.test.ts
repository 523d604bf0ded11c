import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type Stack, startStack } from '@openai-proxy/test-support';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postJson } from './support/http.js';
import { upstreamsFileDir } from './support/upstreams-file.js';

// Interactive work before background work, in real processes: one key floods the queue with
// 2,000 `service_tier: "flex"` requests for an upstream that takes 10 calls at once; another key's
// interactive requests, sent while the flood is queued, go first in the queue and into the share
// of the upstream's capacity kept for them (CAPACITY_INTERACTIVE_SHARE, 20 %: 2 of the 10 places).

const FLOOD = 2_000;
const PEOPLE = 20;
const MAX_CONCURRENCY = 10;

let upstream: MockUpstream;
let stack: Stack<never, { gateway: { run: 'process' } }, 'farm'>;
const files = upstreamsFileDir();
const batchFiles = mkdtempSync(join(tmpdir(), 'oaip-priorities-files-'));

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'priorities' });
  // About 50 ms a call: the flood alone keeps the upstream busy for about 12 s.
  upstream.setDefault({ kind: 'echo', chunkDelayMs: 10 });
  const file = files.write(
    'upstreams.yaml',
    `upstreams:\n  - url: ${upstream.chatUrl}\n    max_concurrency: ${MAX_CONCURRENCY}\n`,
  );
  stack = await startStack({
    redis: true,
    env: {
      UPSTREAMS_FILE: file,
      QUEUE_PREFIX: `{test-${process.pid}-priorities}`,
      GATEWAY_API_KEYS: 'key-flood,key-person',
      MAX_INFLIGHT: '5000',
      MAX_QUEUE_DEPTH: '5000',
      REQUEST_TIMEOUT_MS: '120000',
      FILES_DIR: batchFiles,
    },
    gateways: { gateway: { run: 'process' } },
    workers: { farm: { env: { WORKER_PROCESSES: '1', WORKER_CONCURRENCY: '256' } } },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await upstream?.close();
  files.remove();
  rmSync(batchFiles, { recursive: true, force: true });
});

const ask = (key: string, content: string, extra: Record<string, unknown> = {}) =>
  postJson(
    `${stack.gateways.gateway.url}/v1/chat/completions`,
    { model: 'any', messages: [{ role: 'user', content }], ...extra },
    { authorization: `Bearer ${key}` },
  );

/** How many of each status. */
function countOf(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

it("keeps a person's requests quick while another key's flex flood waits its turn", async () => {
  // Unloaded, for reference.
  const alone: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const started = Date.now();
    expect((await ask('key-person', `alone ${i}`)).status).toBe(200);
    alone.push(Date.now() - started);
  }

  let floodAnswered = 0;
  const flood = Array.from({ length: FLOOD }, (_, i) =>
    ask('key-flood', `flood ${i}`, { service_tier: 'flex' }).then((answer) => {
      floodAnswered += 1;
      return answer.status;
    }),
  );
  // Let the flood fill the queue and the upstream's places first.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const during: number[] = [];
  for (let i = 0; i < PEOPLE; i += 1) {
    const started = Date.now();
    const answer = await ask('key-person', `person ${i}`);
    expect(answer.status).toBe(200);
    during.push(Date.now() - started);
  }
  const floodDoneWhenPeopleWere = floodAnswered;
  const statuses = await Promise.all(flood);
  console.log(
    `[priorities] ${FLOOD} flex requests from one key, upstream max_concurrency ${MAX_CONCURRENCY} | interactive median ${median(alone)} ms alone, ${median(during)} ms during the flood (max ${Math.max(...during)} ms) | flood answered when the ${PEOPLE} were done: ${floodDoneWhenPeopleWere} | flood statuses ${JSON.stringify(countOf(statuses))} | upstream calls ${upstream.stats.requests}`,
  );
  // The people were served while most of the flood still waited, each in well under a second.
  expect(floodDoneWhenPeopleWere).toBeLessThan(FLOOD);
  expect(median(during)).toBeLessThan(1_000);
  expect(statuses.every((status) => status === 200)).toBe(true);
}, 120_000);

it("keeps a person's requests quick while another key's background responses wait their turn", async () => {
  const BACKGROUND = 1_000;
  const gateway = stack.gateways.gateway.url;
  const created = await Promise.all(
    Array.from({ length: BACKGROUND }, (_, i) =>
      postJson(
        `${gateway}/v1/responses`,
        { model: 'any', input: `background ${i}`, background: true },
        { authorization: 'Bearer key-flood' },
      ),
    ),
  );
  expect(created.every((answer) => answer.status === 200 && answer.json.status === 'queued')).toBe(true);
  const completed = async () => {
    const metrics = await fetch(`${gateway}/metrics`).then((response) => response.text());
    return Number(/openai_proxy_background_responses\{status="completed"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  };
  const during: number[] = [];
  for (let i = 0; i < PEOPLE; i += 1) {
    const started = Date.now();
    expect((await ask('key-person', `person ${i}`)).status).toBe(200);
    during.push(Date.now() - started);
  }
  const doneWhenPeopleWere = await completed();
  for (;;) {
    if ((await completed()) === BACKGROUND) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.log(
    `[priorities] ${BACKGROUND} background responses from one key | interactive median ${median(during)} ms (max ${Math.max(...during)} ms) | background completed when the ${PEOPLE} were done: ${doneWhenPeopleWere}`,
  );
  expect(doneWhenPeopleWere).toBeLessThan(BACKGROUND);
  expect(median(during)).toBeLessThan(1_000);
}, 120_000);

it("keeps a person's requests quick while another key's batch runs", async () => {
  const LINES = 1_000;
  const gateway = stack.gateways.gateway.url;
  const client = new OpenAI({ baseURL: `${gateway}/v1`, apiKey: 'key-flood', maxRetries: 0 });
  const text = Array.from({ length: LINES }, (_, i) =>
    JSON.stringify({
      custom_id: `line-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'any', messages: [{ role: 'user', content: `batch ${i}` }] },
    }),
  ).join('\n');
  const input = await client.files.create({
    file: await toFile(Buffer.from(text), 'lines.jsonl'),
    purpose: 'batch',
  });
  const batch = await client.batches.create({
    input_file_id: input.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const during: number[] = [];
  for (let i = 0; i < PEOPLE; i += 1) {
    const started = Date.now();
    expect((await ask('key-person', `person ${i}`)).status).toBe(200);
    during.push(Date.now() - started);
  }
  const doneWhenPeopleWere = (await client.batches.retrieve(batch.id)).request_counts?.completed ?? 0;
  let status = '';
  for (;;) {
    const now = await client.batches.retrieve(batch.id);
    status = now.status;
    if (['completed', 'failed', 'expired', 'cancelled'].includes(status)) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.log(
    `[priorities] a batch of ${LINES} lines from one key | interactive median ${median(during)} ms (max ${Math.max(...during)} ms) | lines done when the ${PEOPLE} were done: ${doneWhenPeopleWere} | batch ${status}`,
  );
  expect(status).toBe('completed');
  expect(doneWhenPeopleWere).toBeLessThan(LINES);
  expect(median(during)).toBeLessThan(1_000);
}, 120_000);

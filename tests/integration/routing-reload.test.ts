import { writeFileSync } from 'node:fs';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  type AppProcess,
  type SpawnedProcess,
  type Stack,
  startStack,
  waitUntil,
} from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonAnswer, postJson } from './support/http.js';
import { upstreamsFileDir } from './support/upstreams-file.js';

// SIGHUP re-reads UPSTREAMS_FILE in real processes: a gateway cluster (its primary passes the
// signal on to both children), a queue-mode gateway and a worker farm of two children. Requests
// in flight while the file changes, streamed, folded in the gateway and folded by a worker, all
// end with their whole answer: the upstream a good file drops finishes them before its pool
// closes, and a bad file changes nothing. New requests follow the new file at once.

const files = upstreamsFileDir();
let path: string;
let old: MockUpstream;
let fresh: MockUpstream;
let stack: Stack<
  never,
  { standalone: { run: 'process'; standalone: true }; queue: { run: 'process' } },
  'farm'
>;
let standalone: AppProcess;
let queue: AppProcess;
let farm: AppProcess;

const PROMPT = 'one two three four five six seven eight nine ten';
const ANSWER = `echo: ${PROMPT}`;
/** About 1.4 s per answer: long enough to be in flight across a reload. */
const SLOW = { kind: 'echo', chunkDelayMs: 100 } as const;

const fileFor = (url: string, key: string) =>
  `upstreams:\n  - url: ${url}\n    key: \${${key}}\n    models: ["gpt-*"]\n`;

beforeAll(async () => {
  [old, fresh] = await Promise.all([
    startMockUpstream({ name: 'old' }),
    startMockUpstream({ name: 'fresh' }),
  ]);
  old.setDefault(SLOW);
  fresh.setDefault(SLOW);
  path = files.write('upstreams.yaml', fileFor(old.chatUrl, 'OLD_KEY'));
  stack = await startStack({
    redis: true,
    env: {
      UPSTREAMS_FILE: path,
      OLD_KEY: 'old-secret',
      FRESH_KEY: 'fresh-secret',
      QUEUE_PREFIX: `{test-${process.pid}-reload}`,
    },
    gateways: {
      standalone: { run: 'process', standalone: true, env: { GATEWAY_PROCESSES: '2' } },
      queue: { run: 'process' },
    },
    workers: { farm: { env: { WORKER_PROCESSES: '2', WORKER_CONCURRENCY: '16' } } },
  });
  ({ standalone, queue } = stack.gateways);
  farm = stack.workers.farm;
  // Every child listens before a signal is sent: a child still starting has no SIGHUP handler yet.
  await linesCount(standalone, 'gateway listening', 2);
  await linesCount(farm, 'worker ready', 2);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([old?.close(), fresh?.close()]);
  files.remove();
});

const printed = (proc: SpawnedProcess, text: string) =>
  proc.output.filter((line) => line.includes(text)).length;

function linesCount(proc: SpawnedProcess, text: string, count: number): Promise<void> {
  return waitUntil(`${count} lines with "${text}"`, proc, async () => printed(proc, text) >= count);
}

const body = (stream: boolean) => ({
  model: 'gpt-4o',
  messages: [{ role: 'user', content: PROMPT }],
  stream,
});

/** A mix of requests that stay in flight: streamed and folded, standalone and through the queue. */
function requestsInFlight(): Array<Promise<JsonAnswer & { stream: boolean }>> {
  const send = (gateway: AppProcess, stream: boolean) =>
    postJson(`${gateway.url}/v1/chat/completions`, body(stream)).then((answer) => ({ ...answer, stream }));
  return [
    ...Array.from({ length: 5 }, () => send(standalone, true)),
    ...Array.from({ length: 5 }, () => send(standalone, false)),
    ...Array.from({ length: 5 }, () => send(queue, false)),
    ...Array.from({ length: 3 }, () => send(queue, true)),
  ];
}

/** The text a client reads from an answer, streamed or folded. */
function contentOf(answer: JsonAnswer & { stream: boolean }): string {
  if (!answer.stream) {
    const choices = answer.json.choices as Array<{ message: { content: string } }>;
    return choices[0]?.message.content ?? '';
  }
  expect(answer.text).toContain('data: [DONE]');
  return answer.text
    .split('\n')
    .filter((line) => line.startsWith('data: {'))
    .map((line) => JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }> })
    .map((chunk) => chunk.choices[0]?.delta?.content ?? '')
    .join('');
}

function signalAll(): void {
  for (const proc of [standalone, queue, farm]) process.kill(proc.pid, 'SIGHUP');
}

describe('SIGHUP re-reads UPSTREAMS_FILE', () => {
  it('takes a good file with requests in flight, losing none, and routes new ones by it', async () => {
    const inFlight = requestsInFlight();
    await old.waitForRequests(inFlight.length, 20_000);
    expect(old.stats.completed).toBe(0);

    writeFileSync(path, fileFor(fresh.chatUrl, 'FRESH_KEY'));
    signalAll();
    await Promise.all([
      linesCount(standalone, 'UPSTREAMS_FILE reloaded', 2),
      linesCount(queue, 'UPSTREAMS_FILE reloaded', 1),
      linesCount(farm, 'UPSTREAMS_FILE reloaded', 2),
    ]);

    const answers = await Promise.all(inFlight);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(contentOf(answer)).toBe(ANSWER);
    }
    expect(old.stats.completed).toBe(inFlight.length);
    expect(old.stats.aborted).toBe(0);
    expect(old.requests[0]?.headers.authorization).toBe('Bearer old-secret');

    const oldBefore = old.stats.requests;
    fresh.setDefault({ kind: 'echo' });
    for (const gateway of [standalone, queue]) {
      for (const stream of [false, true]) {
        const answer = await postJson(`${gateway.url}/v1/chat/completions`, body(stream));
        expect(answer.status).toBe(200);
        expect(contentOf({ ...answer, stream })).toBe(ANSWER);
      }
    }
    expect(old.stats.requests).toBe(oldBefore);
    expect(fresh.stats.requests).toBe(4);
    expect(fresh.requests.at(-1)?.headers.authorization).toBe('Bearer fresh-secret');
  }, 60_000);

  it('keeps the running configuration when the new file is bad, and says why', async () => {
    fresh.setDefault(SLOW);
    const before = fresh.stats.requests;
    const inFlight = requestsInFlight();
    await fresh.waitForRequests(before + inFlight.length, 20_000);

    writeFileSync(path, `upstreams:\n  - url: ${old.chatUrl}\n    weight: -1\n`);
    signalAll();
    await Promise.all([
      linesCount(standalone, 'UPSTREAMS_FILE not reloaded', 2),
      linesCount(queue, 'UPSTREAMS_FILE not reloaded', 1),
      linesCount(farm, 'UPSTREAMS_FILE not reloaded', 2),
    ]);
    const refusal = queue.output.find((line) => line.includes('UPSTREAMS_FILE not reloaded')) ?? '';
    expect(refusal).toContain('field \\"weight\\": must be greater than 0');
    expect(refusal).toContain(path);

    const answers = await Promise.all(inFlight);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(contentOf(answer)).toBe(ANSWER);
    }

    fresh.setDefault({ kind: 'echo' });
    const oldBefore = old.stats.requests;
    const afterBefore = fresh.stats.requests;
    for (const gateway of [standalone, queue]) {
      const answer = await postJson(`${gateway.url}/v1/chat/completions`, body(false));
      expect(answer.status).toBe(200);
    }
    expect(fresh.stats.requests).toBe(afterBefore + 2);
    expect(old.stats.requests).toBe(oldBefore);
    // Nothing stopped: every child still runs.
    for (const proc of [standalone, queue, farm]) expect(proc.exited()).toBe(false);
  }, 60_000);
});

import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { MockBehavior, MockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plantFoldBug } from './fixtures/fold-bug.mjs';
import { chatBody, type JsonAnswer, postJson } from './support/http.js';

// A bug inside the proxy is not an upstream failure: a fold that throws a TypeError answers the
// client 500 internal_error at once (not at its deadline), calls the upstream once (no failover,
// no stream retry), cools nothing down, and logs the stack once. Odd but well-formed upstream
// chunks are still the upstream's business: a 200, or a 502 naming the chunk.

const MARKER = `fold-bug-${randomUUID()}`;
const BUG_MESSAGE = `planted fold bug: ${MARKER}`;
const FOLD_BUG = fileURLToPath(new URL('./fixtures/fold-bug.mjs', import.meta.url));
const ADMIN_KEY = `admin-${randomUUID()}`;
/** How long y stays out after the warm-up: far shorter than the cool-down x would get. */
const Y_RETRY_AFTER_SECONDS = '100';

let stack: Stack<'x' | 'y', { queued: { run: 'in-process' } }, 'farm'>;
let x: MockUpstream;
let y: MockUpstream;
let farm: AppProcess;

beforeAll(async () => {
  stack = await startStack({
    redis: true,
    upstreams: ['x', 'y'],
    env: {
      QUEUE_PREFIX: `{test-${process.pid}-internal-errors}`,
      // A failure would keep an upstream out for ten minutes: long past the test.
      UPSTREAM_COOLDOWN_MS: '600000',
      UPSTREAM_COOLDOWN_MAX_MS: '600000',
      ADMIN_API_KEYS: ADMIN_KEY,
    },
    gateways: { queued: { run: 'in-process' } },
    workers: {
      farm: {
        env: { WORKER_PROCESSES: '1', NODE_OPTIONS: `--import ${FOLD_BUG}`, FOLD_BUG_MARKER: MARKER },
      },
    },
  });
  ({ x, y } = stack.upstreams);
  farm = stack.workers.farm;
});
afterAll(() => stack?.stop());

const chat = (gateway: InProcessGateway, content: string, requestId: string = randomUUID()) =>
  postJson(`${gateway.url}/v1/chat/completions`, chatBody(content), { 'x-request-id': requestId });

const calls = () => ({ x: x.stats.requests, y: y.stats.requests });
const since = (before: { x: number; y: number }) => ({
  x: x.stats.requests - before.x,
  y: y.stats.requests - before.y,
});

const contentOf = (answer: JsonAnswer) =>
  (answer.json.choices as { message: { content: string } }[] | undefined)?.[0]?.message.content;

/**
 * Which upstream a request takes is random among the healthy ones. To make "x is still in
 * service" observable, y is taken out first for a short while (503, Retry-After 100 s) and x for
 * no time at all (503, Retry-After 0): from then on a request goes to x while x is healthy, and to
 * y, which would recover first, if anything cooled x down (for ten minutes).
 */
async function leaveOnlyX(gateway: InProcessGateway): Promise<void> {
  const before = calls();
  x.enqueue({ kind: 'status', status: 503, headers: { 'retry-after': '0' } });
  y.setDefault({ kind: 'status', status: 503, headers: { 'retry-after': Y_RETRY_AFTER_SECONDS } });
  const warmUp = await chat(gateway, 'warm-up');
  expect(warmUp.status).toBe(503);
  expect(since(before)).toEqual({ x: 1, y: 1 });
}

/** The lines a process printed that carry the planted bug's message. */
const bugLines = (output: readonly string[]) => output.filter((line) => line.includes(BUG_MESSAGE));

function expectInternalError(answer: JsonAnswer): void {
  expect(answer.status).toBe(500);
  expect(answer.json.error?.code).toBe('internal_error');
  expect(answer.json.error?.type).toBe('server_error');
  // Internals stay in the log.
  expect(answer.text).not.toContain('planted fold bug');
}

function expectStackOnce(output: readonly string[]): void {
  const lines = bugLines(output);
  expect(lines).toHaveLength(1);
  // The stack, as pino writes it inside the JSON line: a frame after an escaped line break.
  expect(lines[0]).toMatch(/\\n\s+at /);
}

/** Well-formed but odd chunks, each a whole stream: what the client gets is the upstream's doing. */
const chunk = (choices: unknown, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-odd', object: 'chat.completion.chunk', created: 1, model: 'mock-model', choices, ...extra })}\n\n`;
const DONE = 'data: [DONE]\n\n';
const HOSTILE_STREAMS: ReadonlyArray<{ name: string; sse: string; code: string | null }> = [
  {
    name: 'null choices',
    sse: `${chunk(null)}${chunk([{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }])}${DONE}`,
    code: null,
  },
  {
    name: 'a huge choice index',
    sse: `${chunk([{ index: 1e300, delta: { content: 'far' }, finish_reason: 'stop' }])}${DONE}`,
    code: null,
  },
  {
    name: 'strings where objects belong',
    sse:
      chunk(['a choice?'], { usage: 'lots' }) +
      chunk([{ index: 0, delta: 'text?', logprobs: 'none', finish_reason: null }]) +
      chunk([{ index: 0, delta: { content: 'hi', tool_calls: 'none', audio: 'none', function_call: 'x' } }]) +
      chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) +
      DONE,
    code: null,
  },
  { name: 'a chunk that is a string', sse: `data: "odd chunk"\n\n${DONE}`, code: 'upstream_malformed_chunk' },
];

function expectUpstreamVerdict(answer: JsonAnswer, stream: (typeof HOSTILE_STREAMS)[number]): void {
  if (stream.code === null) {
    expect(answer.status).toBe(200);
    return;
  }
  expect(answer.status).toBe(502);
  expect(answer.json.error?.code).toBe(stream.code);
  expect(answer.json.error?.message).toContain('odd chunk');
}

const replay = (sse: string): MockBehavior => ({ kind: 'replay', sse });

describe('queue mode: a bug in the worker fold', () => {
  it('answers 500 internal_error at once, calls the upstream once, cools nothing down, logs the stack once', async () => {
    const gateway = stack.gateways.queued;
    await leaveOnlyX(gateway);
    const requestId = `bug-${randomUUID()}`;
    const before = calls();
    // No deadline is set: a job that went unanswered would hold this past the test's timeout.
    const answer = await chat(gateway, `please ${MARKER}`, requestId);
    expectInternalError(answer);
    expect(since(before)).toEqual({ x: 1, y: 0 });

    // The job line comes after the error line: once it is in, so is everything the job logged.
    const jobLine = await farm.waitForOutput(new RegExp(`"requestId":"${requestId}".*"msg":"job"`));
    expect(jobLine).toContain('"outcome":"error"');
    expect(jobLine).toContain('"status":500');
    expectStackOnce(farm.output);

    // x is still in service: the next request goes to it, not to y.
    const next = await chat(gateway, 'after the bug');
    expect(next.status).toBe(200);
    expect(contentOf(next)).toBe('echo: after the bug');
    expect(since(before)).toEqual({ x: 2, y: 0 });
  });

  it('still gives odd upstream chunks a 200 or a 502 naming the chunk, and keeps the upstream in service', async () => {
    const gateway = stack.gateways.queued;
    const before = calls();
    try {
      for (const stream of HOSTILE_STREAMS) {
        x.setDefault(replay(stream.sse));
        expectUpstreamVerdict(await chat(gateway, stream.name), stream);
      }
    } finally {
      x.setDefault({ kind: 'echo' });
    }
    const next = await chat(gateway, 'after the odd chunks');
    expect(contentOf(next)).toBe('echo: after the odd chunks');
    expect(since(before)).toEqual({ x: HOSTILE_STREAMS.length + 1, y: 0 });
  });
});

describe('standalone mode: a bug in the gateway fold', () => {
  let gateway: InProcessGateway;
  let undo: () => void;

  beforeAll(async () => {
    for (const upstream of [x, y]) upstream.setDefault({ kind: 'echo' });
    gateway = await stack.addGateway({ run: 'in-process', standalone: true });
    // The in-process gateway folds with this very module: the bug is planted here.
    undo = plantFoldBug(MARKER);
  });
  afterAll(() => undo?.());

  /** Every upstream as this gateway sees it: healthy, with no failure counted. */
  async function expectAllInService(): Promise<void> {
    const response = await fetch(`${gateway.url}/admin/status`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const status = (await response.json()) as {
      upstreams: { healthy: boolean; consecutiveFailures: number }[];
    };
    expect(status.upstreams).toHaveLength(2);
    for (const upstream of status.upstreams)
      expect(upstream).toMatchObject({ healthy: true, consecutiveFailures: 0 });
  }

  it('reaches sendError unchanged: 500 internal_error, one upstream call, no cool-down, the stack once', async () => {
    const before = calls();
    const answer = await chat(gateway, `please ${MARKER}`);
    expectInternalError(answer);
    const used = since(before);
    expect(used.x + used.y).toBe(1);
    await expectAllInService();
    // sendError logs before it answers: the line is in by now.
    expectStackOnce(gateway.output);
    expect(bugLines(gateway.output)[0]).toContain('"msg":"unexpected error"');

    const next = await chat(gateway, 'after the bug');
    expect(contentOf(next)).toBe('echo: after the bug');
  });

  it('still gives odd upstream chunks a 200 or a 502 naming the chunk, and keeps the upstreams in service', async () => {
    const before = calls();
    try {
      for (const stream of HOSTILE_STREAMS) {
        for (const upstream of [x, y]) upstream.setDefault(replay(stream.sse));
        expectUpstreamVerdict(await chat(gateway, stream.name), stream);
      }
    } finally {
      for (const upstream of [x, y]) upstream.setDefault({ kind: 'echo' });
    }
    const used = since(before);
    expect(used.x + used.y).toBe(HOSTILE_STREAMS.length);
    await expectAllInService();
  });
});

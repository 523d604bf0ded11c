import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type CompletionApi, messagesApi, responsesApi } from '@openai-proxy/shared';
import { type AppProcess, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson } from './support/http.js';
import { type InProcessFold, inProcessFold } from './support/in-process-fold.js';

// Every recorded Responses and Messages stream replayed by the mock upstream in two TCP slicings,
// through the queue and standalone: the answer is the library's (completeFromStream, in this
// process) to the whole recorded text sent at once (the fold's agreement with the official SDKs is
// checked in libs/shared/test/*-fold-oracle.test.ts), and a stream the fold refuses gives the same
// error, in the route's dialect. Broken streams give
// their errors and the processes keep serving.

interface Api {
  path: '/v1/responses' | '/v1/messages';
  fixtures: string;
  api: CompletionApi;
  request: Record<string, unknown>;
  /** What a client reads of an error in this API's dialect: its code (or type). */
  errorInAnswer: (json: Record<string, unknown>) => unknown;
}

const RESPONSES: Api = {
  path: '/v1/responses',
  fixtures: 'responses-streams',
  api: responsesApi,
  request: { model: 'mock-model', input: 'replay' },
  errorInAnswer: (json) => (json.error as { code?: unknown } | undefined)?.code,
};

const MESSAGES: Api = {
  path: '/v1/messages',
  fixtures: 'messages-streams',
  api: messagesApi,
  request: { model: 'mock-model', max_tokens: 64, messages: [{ role: 'user', content: 'replay' }] },
  errorInAnswer: (json) => (json.type === 'error' ? (json.error as { type?: unknown }).type : undefined),
};

function fixturesOf(api: Api): { api: Api; name: string; sse: string }[] {
  const directory = fileURLToPath(
    new URL(`../../libs/shared/test/fixtures/${api.fixtures}/`, import.meta.url),
  );
  return readdirSync(directory)
    .filter((file) => file.endsWith('.sse'))
    .sort()
    .map((file) => ({ api, name: `${api.path} ${file}`, sse: readFileSync(directory + file, 'utf8') }));
}

/** What the library makes of the whole text at once: a body, or the error a client must get. */
async function expectedAnswer(
  api: Api,
  sse: string,
): Promise<{ status: number; body?: string; code?: unknown }> {
  upstream.enqueue({ kind: 'replay', sse });
  const answer = await inProcess.complete(api.api, api.request);
  if (answer.status === 200) return { status: 200, body: answer.body };
  return { status: answer.status, code: api.errorInAnswer(JSON.parse(answer.body)) };
}

/**
 * A Responses stream without `response.created` gets an id and a `created_at` made up by the
 * fold, fresh per answer: masked; all else is exact.
 */
function withoutMadeUpIds(body: string): string {
  const masked = body.replace(/"resp_[0-9a-f]{32}"/g, '"resp_<made-up>"');
  return masked === body ? body : masked.replace(/"created_at":\d+/, '"created_at":0');
}

let redis: TestRedis;
let upstream: MockUpstream;
let queued: AppProcess;
let worker: AppProcess;
let standalone: AppProcess;
let inProcess: InProcessFold;

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'apis' })]);
  inProcess = inProcessFold(upstream);
  const env = {
    UPSTREAM_API_URL: upstream.chatUrl,
    QUEUE_PREFIX: `{apis-replay-${process.pid}}`,
    UPSTREAM_STREAM_RETRIES: '0',
    LOG_LEVEL: 'warn',
  };
  [queued, worker, standalone] = await Promise.all([
    startApp('gateway', { ...env, REDIS_URL: redis.url }, { waitFor: null }),
    startApp('worker', { ...env, REDIS_URL: redis.url, WORKER_PROCESSES: '1' }, { waitFor: null }),
    startApp('gateway', env, { waitFor: null }),
  ]);
  // LOG_LEVEL=warn hides the ready lines: wait for health instead.
  for (const url of [queued.url, standalone.url, worker.url]) {
    for (let i = 0; i < 200; i += 1) {
      const ok = await fetch(`${url}/health`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}, 30_000);

afterAll(async () => {
  await Promise.all([queued?.stop(), worker?.stop(), standalone?.stop(), inProcess?.close()]);
  await Promise.all([upstream?.close(), redis?.stop()]);
});

const SLICINGS = [{ sliceBytes: 7 }, { sliceBytes: 'random' as const, seed: 42 }];

describe.each([...fixturesOf(RESPONSES), ...fixturesOf(MESSAGES)])('$name', ({ api, sse }) => {
  it('is answered as the fold of the whole text, through the queue and standalone', async () => {
    const expected = await expectedAnswer(api, sse);
    for (const slicing of SLICINGS) {
      for (const gateway of [queued, standalone]) {
        upstream.enqueue({ kind: 'replay', sse, ...slicing });
        const answer = await postJson(`${gateway.url}${api.path}`, api.request);
        expect(answer.status).toBe(expected.status);
        if (expected.body !== undefined)
          expect(withoutMadeUpIds(answer.text)).toBe(withoutMadeUpIds(expected.body));
        else expect(api.errorInAnswer(answer.json)).toBe(expected.code);
      }
    }
  });
});

/** The first `fraction` of a fixture's events, cut at an event boundary. */
function head(api: Api, prefix: string, fraction: number): string {
  const fixture = fixturesOf(api).find((candidate) => candidate.name.includes(` ${prefix}-`));
  if (fixture === undefined) throw new Error(`fixture ${prefix} is missing`);
  const text = fixture.sse;
  return text.slice(0, text.indexOf('\n\n', Math.floor(text.length * fraction)) + 2);
}

describe('broken streams', () => {
  const responsesHead = head(RESPONSES, '03', 0.4);
  const messagesHead = head(MESSAGES, '03', 0.4);
  const cases: [string, Api, string, number, string][] = [
    [
      'a Responses error event (insufficient_quota)',
      RESPONSES,
      `${responsesHead}event: error\ndata: {"type":"error","code":"insufficient_quota","message":"quota"}\n\n`,
      429,
      'insufficient_quota',
    ],
    ['a Responses stream cut short', RESPONSES, responsesHead, 502, 'upstream_stream_truncated'],
    [
      'a malformed Responses event',
      RESPONSES,
      `${responsesHead}data: {"type": "response.\n\n`,
      502,
      'upstream_malformed_chunk',
    ],
    [
      'a Messages overloaded_error',
      MESSAGES,
      `${messagesHead}event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`,
      529,
      'overloaded_error',
    ],
    ['a Messages stream cut short', MESSAGES, messagesHead, 502, 'api_error'],
    ['a malformed Messages event', MESSAGES, `${messagesHead}data: {"type": "content\n\n`, 502, 'api_error'],
  ];
  it.each(cases)('%s → %i, and both gateways keep serving', async (_name, api, text, status, code) => {
    const good = fixturesOf(api)[0]?.sse ?? '';
    for (const gateway of [queued, standalone]) {
      upstream.enqueue({ kind: 'replay', sse: text, sliceBytes: 5 });
      const answer = await postJson(`${gateway.url}${api.path}`, api.request);
      expect(answer.status).toBe(status);
      expect(api.errorInAnswer(answer.json)).toBe(code);
      upstream.enqueue({ kind: 'replay', sse: good });
      const next = await postJson(`${gateway.url}${api.path}`, api.request);
      expect(next.status).toBe(200);
    }
  });
});

describe('a final response that disagrees with its deltas', () => {
  const event = (type: string, fields: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
  const base = { id: 'resp_1', object: 'response', created_at: 1, model: 'm' };
  const message = (text: string) => ({
    id: 'msg_1',
    type: 'message',
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
  });
  const sse = [
    event('response.created', { response: { ...base, status: 'in_progress', output: [], usage: null } }),
    event('response.output_item.added', {
      output_index: 0,
      item: { ...message(''), status: 'in_progress', content: [] },
    }),
    event('response.content_part.added', {
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    }),
    event('response.output_text.delta', { output_index: 0, content_index: 0, delta: 'Hello' }),
    event('response.output_item.done', { output_index: 0, item: message('Hello') }),
    event('response.completed', {
      response: {
        ...base,
        status: 'completed',
        output: [message('Goodbye')],
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    }),
  ].join('');

  it('is answered with the final response, and the disagreement is logged where the fold ran', async () => {
    for (const [gateway, folder] of [
      [queued, worker],
      [standalone, standalone],
    ] as const) {
      const linesBefore = folder.output.length;
      upstream.enqueue({ kind: 'replay', sse });
      const answer = await postJson(`${gateway.url}${RESPONSES.path}`, RESPONSES.request);
      expect(answer.status).toBe(200);
      expect(answer.json.output).toEqual([message('Goodbye')]);
      await eventually(() =>
        folder.output
          .slice(linesBefore)
          .some((line) => line.includes('output[0].content.0.text differs from the stream')),
      );
    }
  });
});

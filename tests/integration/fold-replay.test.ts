import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { chatCompletionsApi } from '@openai-proxy/shared';
import { type AppProcess, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postJson } from './support/http.js';
import { type InProcessFold, inProcessFold } from './support/in-process-fold.js';

// Issue 3 end to end: every recorded provider stream replayed by the mock upstream in several
// TCP slicings, through the queue and standalone. Both modes must give byte-identical answers,
// equal to the library's answer (completeFromStream, in this process) to the whole recorded text
// sent at once (the fold's field-by-field agreement with the official SDK accumulator is checked
// in libs/shared/test/fold-oracle.test.ts). Broken streams must give their 502, and the processes
// must keep serving.

const FIXTURES = fileURLToPath(new URL('../../libs/shared/test/fixtures/streams/', import.meta.url));
interface Fixture {
  name: string;
  sse: string;
}
const fixtures: Fixture[] = readdirSync(FIXTURES)
  .filter((file) => /^\d+-.*\.json$/.test(file))
  .sort()
  .map((file) => ({
    name: file,
    sse: (JSON.parse(readFileSync(FIXTURES + file, 'utf8')) as { sse: string }).sse,
  }));

/** What the library makes of the whole text at once: a body, or the error a client must get. */
async function expectedAnswer(sse: string): Promise<{ status: number; body?: string; code?: string | null }> {
  upstream.enqueue({ kind: 'replay', sse });
  const answer = await inProcess.complete(chatCompletionsApi, chatBody('replay'));
  if (answer.status === 200) return { status: 200, body: answer.body };
  // The code the client reads: an upstream's reported failure keeps its own (llama.cpp's server_error).
  const error = (JSON.parse(answer.body) as { error: { code: string | null } }).error;
  return { status: answer.status, code: error.code };
}

/**
 * A stream without ids (Gemini's) gets ids made up by the fold, and a stream without
 * `created` gets the arrival second: fresh per answer, so they are masked; all else is exact.
 */
function withoutMadeUpIds(body: string): string {
  const masked = body.replace(/"(chatcmpl-|call_)[0-9a-f]{32}"/g, '"$1<made-up>"');
  return masked === body ? body : masked.replace(/"created":\d+/, '"created":0');
}

let stack: Stack;
let upstream: MockUpstream;
let queued: AppProcess;
let standalone: AppProcess;
let inProcess: InProcessFold;

beforeAll(async () => {
  // Processes, not in-process gateways: a stream sliced byte by byte costs a turn of the event loop
  // per byte on each side, which the mock upstream and the gateway are better off not sharing.
  const started = await startStack({
    redis: true,
    upstreams: ['replay'],
    env: { QUEUE_PREFIX: `{replay-${process.pid}}`, UPSTREAM_STREAM_RETRIES: '0', LOG_LEVEL: 'warn' },
    gateways: {
      queued: { run: 'process', waitFor: null },
      standalone: { run: 'process', standalone: true, waitFor: null },
    },
    workers: { farm: { env: { WORKER_PROCESSES: '1' }, waitFor: null } },
  });
  stack = started;
  upstream = started.upstreams.replay;
  inProcess = inProcessFold(upstream);
  ({ queued, standalone } = started.gateways);
  // LOG_LEVEL=warn hides the ready lines: wait for health instead.
  for (const url of [queued.url, standalone.url, started.workers.farm.url]) {
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
  await inProcess?.close();
  await stack?.stop();
});

const SLICINGS = [{ sliceBytes: 1 }, { sliceBytes: 7 }, { sliceBytes: 'random' as const, seed: 42 }];
/** The longest fixtures sent a byte per TCP write take tens of seconds on a busy 2-core machine. */
const REPLAY_TIMEOUT_MS = 120_000;

describe.each(fixtures)('$name', ({ sse }) => {
  it(
    'is answered the same through the queue and standalone, in every TCP slicing',
    async () => {
      const expected = await expectedAnswer(sse);
      for (const slicing of SLICINGS) {
        for (const gateway of [queued, standalone]) {
          upstream.enqueue({ kind: 'replay', sse, ...slicing });
          const answer = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('replay'));
          expect(answer.status).toBe(expected.status);
          if (expected.body !== undefined)
            expect(withoutMadeUpIds(answer.text)).toBe(withoutMadeUpIds(expected.body));
          else expect(answer.json.error?.code).toBe(expected.code);
        }
      }
    },
    REPLAY_TIMEOUT_MS,
  );
});

describe('broken streams', () => {
  const head = fixtures.find((fixture) => fixture.name.startsWith('41-'))!.sse;
  const cut = head.slice(0, head.indexOf('\n\n', head.length / 2) + 2).replace(/data: \[DONE\]\n\n$/, '');
  // An error event is answered with the status OpenAI gives its type without streaming.
  const cases: [string, number, string, string][] = [
    [
      'an error event mid-stream',
      500,
      'server_error',
      `${cut}data: {"error":{"message":"model overloaded","type":"server_error"}}\n\n`,
    ],
    ['a malformed chunk', 502, 'upstream_malformed_chunk', `${cut}data: {"id": "broken\n\n`],
    ['a stream cut before any choice finished', 502, 'upstream_stream_truncated', cut],
  ];
  it.each(cases)('%s → %i %s, and both gateways keep serving', async (_name, status, code, text) => {
    for (const gateway of [queued, standalone]) {
      upstream.enqueue({ kind: 'replay', sse: text, sliceBytes: 5 });
      const answer = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('broken'));
      expect(answer.status).toBe(status);
      expect(answer.json.error?.code).toBe(code);
      if (code === 'server_error') expect(answer.json.error?.message).toContain('model overloaded');
      const next = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('still here'));
      expect(next.status).toBe(200);
    }
  });
});

import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, startStack } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from './support/http.js';

// Errors in the client's dialect, whatever the upstream said. On /v1/messages the official
// Anthropic SDK reads every error, an upstream's OpenAI-shaped 429/400/500/501 included, as the
// error class of its status with Anthropic's body, and the proxy's request id as `requestID` /
// `_request_id`; stream and non-stream, through the queue and standalone. On /v1/chat/completions
// an error chunk inside the upstream's stream is answered with the status OpenAI gives that
// failure without streaming. Each request costs exactly one upstream call: none is retried.

const MESSAGES_TOOL_USE = `${readFileSync(
  new URL('../../libs/shared/test/fixtures/messages-streams/03-tool-use-after-text.sse', import.meta.url),
  'utf8',
).trimEnd()}\n\n`;
const PARAMS = {
  model: 'claude-sonnet-4-20250514',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

const start = () =>
  startStack({
    redis: true,
    upstreams: ['upstream'],
    env: { QUEUE_PREFIX: `{test-${process.pid}-messages-errors}` },
    gateways: { queued: { run: 'in-process' }, standalone: { run: 'in-process', standalone: true } },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
let stack: Awaited<ReturnType<typeof start>>;
let upstream: MockUpstream;

beforeAll(async () => {
  stack = await start();
  upstream = stack.upstreams.upstream;
}, 30_000);

afterAll(() => stack?.stop());

const GATEWAYS = ['queued', 'standalone'] as const;
const gatewayOf = (name: (typeof GATEWAYS)[number]): InProcessGateway => stack.gateways[name];
const anthropic = (gateway: InProcessGateway) =>
  new Anthropic({ apiKey: 'k', baseURL: gateway.url, maxRetries: 0 });

let sequence = 0;
const requestId = (what: string) => {
  sequence += 1;
  return `${what}-${process.pid}-${sequence}`;
};

/** What `run` threw, after counting the upstream calls it made. */
async function failureOf(run: () => Promise<unknown>): Promise<{ error: unknown; upstreamCalls: number }> {
  const before = upstream.stats.requests;
  const error = await run().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  return { error, upstreamCalls: upstream.stats.requests - before };
}

const openAIBody = (message: string, type: string, code: string | null) =>
  JSON.stringify({ error: { message, type, param: null, code } });

describe.each(GATEWAYS)('/v1/messages on the %s gateway', (name) => {
  describe.each([false, true])('stream: %s', (stream) => {
    it.each([
      [429, 'rate_limit_error', Anthropic.RateLimitError],
      [400, 'invalid_request_error', Anthropic.BadRequestError],
      [500, 'api_error', Anthropic.InternalServerError],
      [501, 'api_error', Anthropic.InternalServerError],
    ] as const)(
      "an upstream %i in OpenAI's shape reaches the SDK as %s",
      async (status, type, errorClass) => {
        const message = `upstream says ${status}`;
        upstream.enqueue({
          kind: 'status',
          status,
          body: openAIBody(message, 'some_openai_type', `mock_${status}`),
          headers: { 'anthropic-ratelimit-requests-remaining': '0', 'request-id': 'req_upstream_own' },
        });
        const id = requestId('upstream-error');
        const { error, upstreamCalls } = await failureOf(() =>
          anthropic(gatewayOf(name)).messages.create(
            { ...PARAMS, stream },
            { headers: { 'x-request-id': id } },
          ),
        );
        expect(error).toBeInstanceOf(errorClass);
        if (!(error instanceof Anthropic.APIError)) return;
        expect(error.status).toBe(status);
        expect(error.error).toEqual({ type: 'error', error: { type, message } });
        expect(error.requestID).toBe(id);
        expect(error.headers?.get('anthropic-ratelimit-requests-remaining')).toBe('0');
        expect(upstreamCalls).toBe(1);
      },
    );

    it("an upstream error already in Anthropic's shape passes unchanged", async () => {
      const body =
        '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}';
      upstream.enqueue({ kind: 'status', status: 529, body });
      const answer = await postJson(`${gatewayOf(name).url}/v1/messages`, { ...PARAMS, stream });
      expect([answer.status, answer.text]).toEqual([529, body]);
    });
  });

  it('names every answer with the proxy request id: a folded message, a stream, an error of its own', async () => {
    const client = anthropic(gatewayOf(name));
    const foldedId = requestId('folded');
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    const folded = await client.messages.create(PARAMS, { headers: { 'x-request-id': foldedId } });
    expect(folded._request_id).toBe(foldedId);

    const streamedId = requestId('streamed');
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    const streamed = await client.messages
      .create({ ...PARAMS, stream: true }, { headers: { 'x-request-id': streamedId } })
      .withResponse();
    for await (const _event of streamed.data) {
      // Read to the end, so the stream closes.
    }
    expect(streamed.request_id).toBe(streamedId);

    // Refused by the proxy itself (no max_tokens): no upstream call, and the id still comes back.
    const refusedId = requestId('refused');
    const { error, upstreamCalls } = await failureOf(() =>
      client.messages.create(
        { ...PARAMS, max_tokens: undefined as unknown as number },
        {
          headers: { 'x-request-id': refusedId },
        },
      ),
    );
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.APIError>).requestID).toBe(refusedId);
    expect(upstreamCalls).toBe(0);
  });
});

describe.each(GATEWAYS)('/v1/chat/completions on the %s gateway, an error chunk in the stream', (name) => {
  const FIRST_CHUNK =
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"mock-model","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}';
  // No [DONE] after the error, as llama.cpp sends it (fixture 93).
  const streamFailingWith = (error: Record<string, unknown>) =>
    `data: ${FIRST_CHUNK}\n\ndata: ${JSON.stringify({ error })}\n\n`;

  it.each([
    [
      { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
      429,
      'rate_limit_error',
      'rate_limit_exceeded',
      OpenAI.RateLimitError,
    ],
    [
      { type: 'invalid_request_error', code: 'context_length_exceeded' },
      400,
      'invalid_request_error',
      'context_length_exceeded',
      OpenAI.BadRequestError,
    ],
    [
      { type: 'insufficient_quota', code: 'insufficient_quota' },
      429,
      'rate_limit_error',
      'insufficient_quota',
      OpenAI.RateLimitError,
    ],
    // llama.cpp's own words (fixture 93): a numeric code and OpenAI's type.
    [{ type: 'server_error', code: 500 }, 500, 'server_error', 'server_error', OpenAI.InternalServerError],
    [{ type: 'something_new' }, 502, 'upstream_error', 'upstream_stream_error', OpenAI.InternalServerError],
  ] as const)('%j is answered %i %s (%s) in OpenAI shape', async (named, status, type, code, errorClass) => {
    upstream.enqueue({
      kind: 'replay',
      sse: streamFailingWith({ ...named, message: 'the upstream gave up' }),
    });
    const client = new OpenAI({ apiKey: 'k', baseURL: `${gatewayOf(name).url}/v1`, maxRetries: 0 });
    const { error, upstreamCalls } = await failureOf(() =>
      client.chat.completions.create({ model: 'mock-model', messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ status, type, code });
    expect((error as Error).message).toContain('the upstream gave up');
    expect(upstreamCalls).toBe(1);
  });
});

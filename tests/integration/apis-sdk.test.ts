import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from './support/http.js';

// The official clients of both APIs, unchanged, through the proxy: `openai`'s
// `client.responses.create` and `@anthropic-ai/sdk`'s `client.messages.create`, each with a
// tool, without streaming (folded) and streaming (piped). The recorded streams are replayed by
// the mock upstream; the folded answer must be what the SDK itself builds from the same stream.
// Also the Anthropic dialect's keys: gateway keys accepted as `x-api-key`, the upstream key sent
// as `x-api-key` on /v1/messages (Bearer elsewhere), a client's own key passed on and never logged.

const fixture = (path: string) =>
  readFileSync(new URL(`../../libs/shared/test/fixtures/${path}`, import.meta.url), 'utf8');
const RESPONSES_TOOL_CALL = fixture('responses-streams/03-function-call.sse');
/**
 * The recording ends without the blank line that closes its last event. The fold reads such an
 * event; a piped stream hands it to the SDK as sent, and the SDK (as the SSE spec says) drops it.
 */
const MESSAGES_TOOL_USE = `${fixture('messages-streams/03-tool-use-after-text.sse').trimEnd()}\n\n`;

const GATEWAY_KEY = 'gw-key-for-apis';
const UPSTREAM_KEY = 'upstream-key-for-apis';
const CLIENT_KEY = 'sk-ant-client-key-never-logged';

const WEATHER_TOOL_OPENAI = {
  type: 'function' as const,
  name: 'get_weather_at_location',
  description: 'The weather at a place',
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  strict: false,
};
const WEATHER_TOOL_ANTHROPIC = {
  name: 'get_weather',
  description: 'The weather at a place',
  input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } },
};
const MESSAGES_PARAMS = {
  model: 'claude-sonnet-4-20250514',
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: 'Weather in Paris?' }],
  tools: [WEATHER_TOOL_ANTHROPIC],
};

let redis: TestRedis;
let upstream: MockUpstream;
/** Standalone, with gateway keys and an upstream key of its own. */
let keyed: AppProcess;
/** Queue mode, no keys: the client's own key travels on (through a job in Redis). */
let open: AppProcess;
let worker: AppProcess;

async function healthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const ok = await fetch(`${url}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} never became healthy`);
}

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'sdk' })]);
  const env = {
    UPSTREAM_API_URL: upstream.chatUrl,
    QUEUE_PREFIX: `{apis-sdk-${process.pid}}`,
    UPSTREAM_STREAM_RETRIES: '0',
  };
  [keyed, open, worker] = await Promise.all([
    startApp(
      'gateway',
      { ...env, GATEWAY_API_KEYS: GATEWAY_KEY, UPSTREAM_API_KEY: UPSTREAM_KEY, LOG_LEVEL: 'warn' },
      { waitFor: null },
    ),
    startApp('gateway', { ...env, REDIS_URL: redis.url, LOG_LEVEL: 'debug' }, { waitFor: null }),
    startApp(
      'worker',
      { ...env, REDIS_URL: redis.url, WORKER_PROCESSES: '1', LOG_LEVEL: 'debug' },
      { waitFor: null },
    ),
  ]);
  await Promise.all([keyed.url, open.url, worker.url].map(healthy));
}, 30_000);

afterAll(async () => {
  await Promise.all([keyed?.stop(), open?.stop(), worker?.stop()]);
  await Promise.all([upstream?.close(), redis?.stop()]);
});

const lastUpstreamRequest = () => {
  const request = upstream.requests.at(-1);
  if (request === undefined) throw new Error('the upstream saw no request');
  return request;
};

describe('openai SDK, client.responses.create with a tool', () => {
  const client = () => new OpenAI({ apiKey: GATEWAY_KEY, baseURL: `${keyed.url}/v1`, maxRetries: 0 });

  it('without streaming, answers what the SDK builds from the same stream', async () => {
    upstream.enqueue({ kind: 'replay', sse: RESPONSES_TOOL_CALL, sliceBytes: 9 });
    const folded = await client().responses.create({
      model: 'gpt-4o-mini',
      input: 'Weather in Paris?',
      tools: [WEATHER_TOOL_OPENAI],
    });
    upstream.enqueue({ kind: 'replay', sse: RESPONSES_TOOL_CALL, sliceBytes: 9 });
    const streamed = await client()
      .responses.stream({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools: [WEATHER_TOOL_OPENAI] })
      .finalResponse();
    expect(folded.status).toBe('completed');
    const call = folded.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather_at_location' });
    expect(JSON.parse(call?.type === 'function_call' ? call.arguments : '')).toEqual(expect.any(Object));
    // The SDK's stream helper adds its own `parsed_arguments` to function calls.
    const streamedOutput = streamed.output.map((item) => {
      const { parsed_arguments: _parsed, ...rest } = item as typeof item & { parsed_arguments?: unknown };
      return rest;
    });
    expect(folded.output).toEqual(streamedOutput);
    expect(folded.usage).toEqual(streamed.usage);
    expect(folded.id).toBe(streamed.id);
  });

  it('streaming (stream: true), the events are piped as the upstream sent them', async () => {
    upstream.enqueue({ kind: 'replay', sse: RESPONSES_TOOL_CALL });
    const stream = await client().responses.create({
      model: 'gpt-4o-mini',
      input: 'Weather in Paris?',
      tools: [WEATHER_TOOL_OPENAI],
      stream: true,
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.function_call_arguments.delta');
    expect(types.at(-1)).toBe('response.completed');
  });

  it('sends the upstream key as a Bearer token, never the gateway key', async () => {
    upstream.enqueue({ kind: 'replay', sse: RESPONSES_TOOL_CALL });
    await client().responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    const sent = lastUpstreamRequest();
    expect(sent.path).toBe('/v1/responses');
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(sent.headers['x-api-key']).toBeUndefined();
    expect(sent.body).toMatchObject({ stream: true });
    expect(sent.body).not.toHaveProperty('stream_options');
  });
});

/** A client that sends its key as `x-api-key`, as Anthropic's SDKs before 1.x and its docs do. */
const xApiKeyClient = (baseURL: string, key: string) =>
  new Anthropic({ apiKey: null, baseURL, maxRetries: 0, defaultHeaders: { 'x-api-key': key } });

describe('@anthropic-ai/sdk, client.messages.create with a tool', () => {
  const client = (baseURL = keyed.url, apiKey = GATEWAY_KEY) =>
    new Anthropic({ apiKey, baseURL, maxRetries: 0 });

  it('without streaming, answers what the SDK builds from the same stream', async () => {
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE, sliceBytes: 9 });
    const folded = await client().messages.create(MESSAGES_PARAMS);
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE, sliceBytes: 9 });
    const streamed = await client().messages.stream(MESSAGES_PARAMS).finalMessage();
    expect(folded.stop_reason).toBe('tool_use');
    expect(folded.content.map((block) => block.type)).toEqual(['text', 'tool_use']);
    expect(folded.content[1]).toMatchObject({ name: 'get_weather', input: expect.any(Object) });
    // The SDK's stream helper adds its own `parsed_output` (structured outputs) to the message.
    const { parsed_output: _parsed, ...streamedMessage } = streamed;
    expect(folded).toEqual(streamedMessage);
  });

  it('streaming (stream: true), the events are piped as the upstream sent them', async () => {
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    const stream = await client().messages.create({ ...MESSAGES_PARAMS, stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe('message_start');
    expect(types).toContain('content_block_delta');
    expect(types.at(-1)).toBe('message_stop');
  });

  it('takes the gateway key as x-api-key, sends the upstream key as x-api-key, and the version headers', async () => {
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    await xApiKeyClient(keyed.url, GATEWAY_KEY).messages.create(MESSAGES_PARAMS, {
      headers: { 'anthropic-beta': 'tools-2024-04-04' },
    });
    const sent = lastUpstreamRequest();
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers['anthropic-version']).toEqual(expect.any(String));
    expect(sent.headers['anthropic-beta']).toBe('tools-2024-04-04');
    expect(sent.body).toEqual({ ...MESSAGES_PARAMS, stream: true });
  });

  it('takes the gateway key as a Bearer token too (as this SDK sends its apiKey)', async () => {
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    await client()
      .messages.create({ ...MESSAGES_PARAMS, stream: true })
      .then(async (stream) => {
        for await (const _event of stream);
      });
    const sent = lastUpstreamRequest();
    expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('refuses a wrong key in Anthropic shape (401 authentication_error)', async () => {
    for (const refused of [
      xApiKeyClient(keyed.url, 'not-a-gateway-key'),
      client(keyed.url, 'not-a-gateway-key'),
    ]) {
      const error = await refused.messages.create(MESSAGES_PARAMS).then(
        () => null,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
      if (!(error instanceof Anthropic.APIError)) continue;
      expect(error.error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    }
  });

  it("passes a client's own key on as it came, through the queue, and never logs it", async () => {
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    const message = await xApiKeyClient(open.url, CLIENT_KEY).messages.create(MESSAGES_PARAMS);
    expect(message.stop_reason).toBe('tool_use');
    expect(lastUpstreamRequest().headers['x-api-key']).toBe(CLIENT_KEY);
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    await xApiKeyClient(open.url, CLIENT_KEY).messages.stream(MESSAGES_PARAMS).finalMessage();
    expect(lastUpstreamRequest().headers['x-api-key']).toBe(CLIENT_KEY);
    upstream.enqueue({ kind: 'replay', sse: MESSAGES_TOOL_USE });
    await client(open.url, CLIENT_KEY).messages.create(MESSAGES_PARAMS);
    expect(lastUpstreamRequest().headers).toMatchObject({ authorization: `Bearer ${CLIENT_KEY}` });
    expect(lastUpstreamRequest().headers['x-api-key']).toBeUndefined();
    const logged = [...open.output, ...worker.output].join('\n');
    expect(logged).toContain('/v1/messages');
    expect(logged).not.toContain(CLIENT_KEY);
  });

  it('answers an upstream overloaded_error as Anthropic would: 529, read by the SDK as such', async () => {
    const cut = MESSAGES_TOOL_USE.slice(0, MESSAGES_TOOL_USE.indexOf('\n\n', 800) + 2);
    upstream.enqueue({
      kind: 'replay',
      sse: `${cut}event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`,
    });
    const error = await client(open.url, CLIENT_KEY)
      .messages.create(MESSAGES_PARAMS)
      .then(
        () => null,
        (thrown: unknown) => thrown,
      );
    expect(error).toBeInstanceOf(Anthropic.APIError);
    if (!(error instanceof Anthropic.APIError)) return;
    expect(error.status).toBe(529);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('answers a passed deadline in Anthropic shape, standalone and through the queue (504 timeout_error)', async () => {
    for (const [gateway, key] of [
      [keyed, GATEWAY_KEY],
      [open, CLIENT_KEY],
    ] as const) {
      upstream.enqueue({ kind: 'hang', afterHeaders: true });
      const answer = await postJson(`${gateway.url}/v1/messages`, MESSAGES_PARAMS, {
        'x-api-key': key,
        'x-stainless-timeout': '1',
      });
      expect(answer.status).toBe(504);
      expect(answer.json).toMatchObject({ type: 'error', error: { type: 'timeout_error' } });
    }
  });

  it('refuses a bad request in Anthropic shape, naming the field', async () => {
    const answer = await postJson(
      `${open.url}/v1/messages`,
      { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-api-key': CLIENT_KEY },
    );
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: "Missing required parameter: 'max_tokens'." },
    });
  });
});

describe('the mock upstream’s own echo, through the proxy, as the official SDKs read it', () => {
  const PROMPT = 'Hello from the SDK';
  const ECHO = `echo: ${PROMPT}`;
  const gateways = () =>
    [
      ['standalone', keyed, GATEWAY_KEY],
      ['queue mode', open, CLIENT_KEY],
    ] as const;
  /** Runs `call` and checks it cost exactly one upstream request on `path`. */
  const oneUpstreamCall = async <T>(path: string, call: () => Promise<T>): Promise<T> => {
    const before = upstream.stats.byPath[path] ?? 0;
    const result = await call();
    expect(upstream.stats.byPath[path]).toBe(before + 1);
    return result;
  };

  it('openai: responses.create, folded and streamed, answers the echoed text', async () => {
    for (const [mode, gateway, key] of gateways()) {
      const client = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
      const folded = await oneUpstreamCall('/v1/responses', () =>
        client.responses.create({ model: 'gpt-4o-mini', input: PROMPT }),
      );
      expect(folded.status, mode).toBe('completed');
      expect(folded.output_text, mode).toBe(ECHO);
      expect(folded.usage, mode).toMatchObject({ input_tokens: 4, output_tokens: 5, total_tokens: 9 });

      const deltas = await oneUpstreamCall('/v1/responses', async () => {
        const stream = await client.responses.create({ model: 'gpt-4o-mini', input: PROMPT, stream: true });
        const seen: string[] = [];
        for await (const event of stream)
          if (event.type === 'response.output_text.delta') seen.push(event.delta);
        return seen;
      });
      expect(deltas.join(''), mode).toBe(ECHO);
      const final = await oneUpstreamCall('/v1/responses', () =>
        client.responses.stream({ model: 'gpt-4o-mini', input: PROMPT }).finalResponse(),
      );
      expect(final.output_text, mode).toBe(ECHO);
    }
  });

  it('@anthropic-ai/sdk: messages.create, folded and streamed, answers the echoed text', async () => {
    const params = {
      model: 'claude-sonnet-4-20250514',
      max_tokens: 64,
      messages: [{ role: 'user' as const, content: PROMPT }],
    };
    for (const [mode, gateway, key] of gateways()) {
      const client = new Anthropic({ apiKey: key, baseURL: gateway.url, maxRetries: 0 });
      const folded = await oneUpstreamCall('/v1/messages', () => client.messages.create(params));
      expect(folded.stop_reason, mode).toBe('end_turn');
      expect(folded.content, mode).toEqual([expect.objectContaining({ type: 'text', text: ECHO })]);
      expect(folded.usage, mode).toMatchObject({ input_tokens: 4, output_tokens: 5 });

      const deltas = await oneUpstreamCall('/v1/messages', async () => {
        const stream = await client.messages.create({ ...params, stream: true });
        const seen: string[] = [];
        for await (const event of stream)
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
            seen.push(event.delta.text);
        return seen;
      });
      expect(deltas.join(''), mode).toBe(ECHO);
      const final = await oneUpstreamCall('/v1/messages', () =>
        client.messages.stream(params).finalMessage(),
      );
      expect(final.content, mode).toEqual([expect.objectContaining({ type: 'text', text: ECHO })]);
    }
  });
});

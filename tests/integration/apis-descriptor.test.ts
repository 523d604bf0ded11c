import { loadGatewayConfig, type RunningGateway, startGateway } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  anthropicErrorDialect,
  BUILT_IN_APIS,
  type CompletionApi,
  chatCompletionsApi,
  createLogger,
  errors,
  type FoldedAnswer,
  redisTopology,
  type StreamFolder,
} from '@openai-proxy/shared';
import { startRedis, type TestRedis } from '@openai-proxy/test-support';
import { loadWorkerConfig, type RunningWorker, startWorkerChild } from '@openai-proxy/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from './support/http.js';

// Adding an API is adding a descriptor: one the proxy has never heard of, given to the gateway
// (and in queue mode to the worker), gets its route, its request check, its fold and its error
// shape, end to end against a real upstream, with nothing else changed.

/** Folds like chat completions, then shouts the answer: proof that the descriptor's folder ran. */
function shoutingFolder(): StreamFolder<FoldedAnswer> {
  const chat = chatCompletionsApi.folder();
  return {
    take: (data) => chat.take(data),
    finish: () => {
      const folded = chat.finish();
      return {
        ...folded,
        body: folded.body.replace(
          /"content":"([^"]*)"/g,
          (_all, text: string) => `"content":"${text.toUpperCase()}"`,
        ),
      };
    },
  };
}

const shoutApi: CompletionApi = {
  kind: 'shout',
  path: '/v1/shout',
  endpoint: '/chat/completions',
  checkRequest: (body) => {
    chatCompletionsApi.checkRequest(body);
    if (body.volume !== 'loud')
      throw errors.badRequest("Invalid 'volume': must be 'loud'.", 'volume', 'invalid_value');
  },
  folder: shoutingFolder,
  keyHeader: 'authorization',
  hasStreamOptions: true,
  errorDialect: anthropicErrorDialect,
};

let upstream: MockUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'descriptor' });
  const config = loadGatewayConfig({
    UPSTREAM_API_URL: upstream.chatUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    STATS_INTERVAL_SECONDS: '0',
  });
  gateway = await startGateway(config, createLogger({ name: 'gateway', level: 'silent' }), {
    apis: [...BUILT_IN_APIS, shoutApi],
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const shout = (body: Record<string, unknown>) => postJson(`${gateway.url}/v1/shout`, body);
const hello = { model: 'mock-model', messages: [{ role: 'user', content: 'hello' }], volume: 'loud' };

it('a new descriptor gets a route whose answers are folded by its own folder', async () => {
  const before = upstream.stats.requests;
  const answer = await shout(hello);
  expect(answer.status).toBe(200);
  expect((answer.json.choices as Array<{ message: { content: string } }>)[0]?.message.content).toBe(
    'ECHO: HELLO',
  );
  // Its endpoint at the upstream, called once, asked to stream with usage (it has stream options).
  expect(upstream.stats.requests - before).toBe(1);
  const sent = upstream.requests.at(-1);
  expect(sent?.path).toBe('/v1/chat/completions');
  expect(sent?.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, volume: 'loud' });
});

it("streams through the descriptor's endpoint, bytes untouched", async () => {
  const answer = await shout({ ...hello, stream: true });
  expect(answer.status).toBe(200);
  expect(answer.text).toContain('data: [DONE]');
  expect(answer.text).toContain('echo');
});

it('refuses a bad request with its own check, in its own error shape, before any upstream', async () => {
  const before = upstream.stats.requests;
  const answer = await shout({ model: 'mock-model', volume: 'loud' });
  expect(answer.status).toBe(400);
  expect(answer.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  expect(String((answer.json.error as { message: string }).message)).toContain('messages');
  expect(upstream.stats.requests - before).toBe(0);
});

it('runs the check the descriptor adds', async () => {
  const answer = await shout({ ...hello, volume: 'soft' });
  expect(answer.status).toBe(400);
  expect(answer.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  expect(String((answer.json.error as { message: string }).message)).toContain('volume');
});

it('leaves the built-in routes as they were', async () => {
  const answer = await postJson(`${gateway.url}/v1/chat/completions`, {
    model: 'mock-model',
    messages: [{ role: 'user', content: 'hi' }],
  });
  expect(answer.status).toBe(200);
  expect((answer.json.choices as Array<{ message: { content: string } }>)[0]?.message.content).toBe(
    'echo: hi',
  );
});

describe('in queue mode', () => {
  let redis: TestRedis;
  let queued: RunningGateway;
  let worker: RunningWorker;

  beforeAll(async () => {
    redis = await startRedis();
    const env = {
      UPSTREAM_API_URL: upstream.chatUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `{descriptor-${process.pid}}`,
      PORT: '0',
      HOST: '127.0.0.1',
      STATS_INTERVAL_SECONDS: '0',
      WORKER_METRICS_PORT: '0',
    };
    const logger = createLogger({ name: 'descriptor', level: 'silent' });
    const config = loadWorkerConfig(env);
    const topology = redisTopology(config);
    if (topology === undefined) throw new Error('REDIS_URL was not read');
    worker = await startWorkerChild(config, topology, logger, { apis: [...BUILT_IN_APIS, shoutApi] });
    queued = await startGateway(loadGatewayConfig(env), logger, { apis: [...BUILT_IN_APIS, shoutApi] });
  });
  afterAll(async () => {
    await queued?.close();
    await worker?.close();
    await redis?.stop();
  });

  // A worker without the descriptor would answer 500 (no API of that kind): the shouted text is
  // the descriptor's folder at work in the worker.
  it("the worker folds the new API's job with the descriptor's folder, one upstream call", async () => {
    const before = upstream.stats.requests;
    const answer = await postJson(`${queued.url}/v1/shout`, hello);
    expect(answer.status).toBe(200);
    expect((answer.json.choices as Array<{ message: { content: string } }>)[0]?.message.content).toBe(
      'ECHO: HELLO',
    );
    expect(upstream.stats.requests - before).toBe(1);
  });

  it("an upstream's error reaches the client in the descriptor's dialect", async () => {
    upstream.enqueue({ kind: 'status', status: 400 });
    const answer = await postJson(`${queued.url}/v1/shout`, hello);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
});

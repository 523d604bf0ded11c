import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonAnswer, postJson } from './support/http.js';
import { chatStreamWithUsage, upstreamsFileDir } from './support/upstreams-file.js';

// Routing by model with UPSTREAMS_FILE, against six mock upstreams, in standalone mode (the fold
// in the gateway) and queue mode (the fold in a worker process, which routes by its own table),
// with the official SDK as the client where it can be:
// - a model reaches only the upstreams that serve it; an unknown one reaches none (404
//   `model_not_found` in the route's dialect, before any upstream or the queue);
// - an alias is rewritten in the upstream's body only: the client sees the name it asked for;
// - `include_usage: false` upstreams never see `stream_options`, and their answers still fold;
// - failover stays inside the model's group;
// - weights 4:1 split 2,000 requests within a binomial tolerance (see that test).

const files = upstreamsFileDir();
const NAMES = ['cheap', 'dear', 'deepseek', 'vllm', 'flaky', 'steady'] as const;
type Name = (typeof NAMES)[number];
let mocks: Record<Name, MockUpstream>;
let stack: Stack<
  never,
  { standalone: { run: 'in-process'; standalone: true }; queue: { run: 'in-process' } },
  'farm'
>;
const LOCAL_NAME = '/models/Meta-Llama-3-8B-Instruct';

beforeAll(async () => {
  const started = await Promise.all(NAMES.map((name) => startMockUpstream({ name })));
  mocks = Object.fromEntries(NAMES.map((name, index) => [name, started[index]])) as Record<
    Name,
    MockUpstream
  >;
  mocks.flaky.setDefault({ kind: 'status', status: 500 });
  const file = files.write(
    'upstreams.yaml',
    `
upstreams:
  - url: ${mocks.cheap.chatUrl}
    key: cheap-key
    weight: 4
    models: ["gpt-*"]
  - url: ${mocks.dear.chatUrl}
    key: dear-key
    models: ["gpt-*"]
  - url: ${mocks.deepseek.chatUrl}
    models: [deepseek-chat]
    include_usage: false
  - url: ${mocks.vllm.chatUrl}
    models: [local-llama]
    aliases:
      llama-3-8b: ${LOCAL_NAME}
  - url: ${mocks.flaky.chatUrl}
    models: [flaky-model, broken-model]
  - url: ${mocks.steady.chatUrl}
    models: [flaky-model]
`,
  );
  stack = await startStack({
    redis: true,
    // No cool-down: the failing upstream is tried every time, so every request tests failover.
    env: {
      UPSTREAMS_FILE: file,
      QUEUE_PREFIX: `{test-${process.pid}-routing}`,
      UPSTREAM_COOLDOWN_MS: '0',
      UPSTREAM_COOLDOWN_MAX_MS: '0',
    },
    gateways: { standalone: { run: 'in-process', standalone: true }, queue: { run: 'in-process' } },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all(Object.values(mocks ?? {}).map((mock) => mock.close()));
  files.remove();
});

/** Requests each upstream received while `run` ran. */
async function countedDuring(run: () => Promise<void>): Promise<Record<Name, number>> {
  const before = Object.fromEntries(NAMES.map((name) => [name, mocks[name].stats.requests]));
  await run();
  return Object.fromEntries(
    NAMES.map((name) => [name, mocks[name].stats.requests - (before[name] ?? 0)]),
  ) as Record<Name, number>;
}

const lastBodyOf = (name: Name) => mocks[name].requests.at(-1)?.body as Record<string, unknown>;
const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'route me' }],
  ...extra,
});
/** The same request, typed for the SDK. */
const ask = (model: string) => ({ model, messages: [{ role: 'user' as const, content: 'route me' }] });

/** The `data:` events of an SSE body, parsed (without `[DONE]`). */
function events(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
    .map((line) => JSON.parse(line.slice('data: '.length)) as Record<string, unknown>);
}

describe.each(['standalone', 'queue'] as const)('%s mode', (mode) => {
  const gateway = (): InProcessGateway => stack.gateways[mode];
  const client = () => new OpenAI({ apiKey: 'sk-client', baseURL: `${gateway().url}/v1`, maxRetries: 0 });

  it('sends each model only to the upstreams that serve it, folded and streamed', async () => {
    const counts = await countedDuring(async () => {
      for (let i = 0; i < 10; i += 1) {
        const answer = await client().chat.completions.create(ask('gpt-4o-mini'));
        expect(answer.choices[0]?.message.content).toBe('echo: route me');
      }
      const streamed = await postJson(
        `${gateway().url}/v1/chat/completions`,
        chat('gpt-4o', { stream: true }),
      );
      expect(streamed.status).toBe(200);
      expect(streamed.text).toContain('data: [DONE]');
    });
    expect(counts.cheap + counts.dear).toBe(11);
    expect(counts).toMatchObject({ deepseek: 0, vllm: 0, flaky: 0, steady: 0 });

    const local = await countedDuring(async () => {
      const answer = await client().chat.completions.create(ask('local-llama'));
      expect(answer.model).toBe('local-llama');
    });
    expect(local).toEqual({ cheap: 0, dear: 0, deepseek: 0, vllm: 1, flaky: 0, steady: 0 });
  });

  it('sends an upstream its alias and answers under the name the client asked for', async () => {
    const folded = await countedDuring(async () => {
      const answer = await client().chat.completions.create(ask('llama-3-8b'));
      expect(answer.model).toBe('llama-3-8b');
      expect(answer.choices[0]?.message.content).toBe('echo: route me');
    });
    expect(folded.vllm).toBe(1);
    expect(lastBodyOf('vllm').model).toBe(LOCAL_NAME);

    const streamed = await postJson(
      `${gateway().url}/v1/chat/completions`,
      chat('llama-3-8b', { stream: true }),
    );
    expect(streamed.status).toBe(200);
    expect(lastBodyOf('vllm').model).toBe(LOCAL_NAME);
    const chunks = events(streamed.text);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) expect(chunk.model).toBe('llama-3-8b');
    expect(streamed.text).not.toContain(LOCAL_NAME);

    // With the SDK's own stream reader too.
    const stream = await client().chat.completions.create({ ...ask('llama-3-8b'), stream: true });
    let text = '';
    for await (const chunk of stream) {
      expect(chunk.model).toBe('llama-3-8b');
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('echo: route me');

    // A pass-through request naming a model is routed and renamed the same way.
    const embedded = await client().embeddings.create({
      model: 'llama-3-8b',
      input: 'hi',
      encoding_format: 'float',
    });
    expect(lastBodyOf('vllm')).toMatchObject({ model: LOCAL_NAME, input: 'hi', encoding_format: 'float' });
    expect(embedded.model).toBe('llama-3-8b');
    expect(embedded.data[0]?.embedding).toHaveLength(3);
  });

  it('answers a model no upstream serves with 404 model_not_found before any upstream is called', async () => {
    const answers: JsonAnswer[] = [];
    const counts = await countedDuring(async () => {
      const url = gateway().url;
      answers.push(await postJson(`${url}/v1/chat/completions`, chat('no-such-model')));
      answers.push(await postJson(`${url}/v1/chat/completions`, chat('no-such-model', { stream: true })));
      answers.push(await postJson(`${url}/v1/completions`, { model: 'gpt4o', prompt: 'x' }));
      answers.push(await postJson(`${url}/v1/responses`, { model: 'no-such-model', input: 'hi' }));
      answers.push(await postJson(`${url}/v1/embeddings`, { model: 'no-such-model', input: 'hi' }));
    });
    expect(counts).toEqual({ cheap: 0, dear: 0, deepseek: 0, vllm: 0, flaky: 0, steady: 0 });
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      expect(answer.json.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' });
    }
    expect(answers[0]?.json.error?.message).toContain('no-such-model');

    const messages = await postJson(
      `${gateway().url}/v1/messages`,
      { model: 'claude-nope', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
      { 'anthropic-version': '2023-06-01' },
    );
    expect(messages.status).toBe(404);
    expect(messages.json).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });

    // The SDK sees OpenAI's NotFoundError with the code.
    const refused = await client()
      .chat.completions.create(ask('no-such-model'))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.NotFoundError);
    expect((refused as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');

    // Refused by the gateway, not by a worker: no job was made. A worker logs each job it ends,
    // in order; once it logged a later job, it would have logged the refused one too.
    const refusedId = `refused-${mode}`;
    const laterId = `later-${mode}`;
    const unknown = await postJson(`${gateway().url}/v1/chat/completions`, chat('no-such-model'), {
      'x-request-id': refusedId,
    });
    expect(unknown.status).toBe(404);
    const known = await postJson(`${gateway().url}/v1/chat/completions`, chat('gpt-4o'), {
      'x-request-id': laterId,
    });
    expect(known.status).toBe(200);
    if (mode === 'queue') await stack.workers.farm.waitForOutput(laterId);
    expect(stack.workers.farm.output.some((line) => line.includes(refusedId))).toBe(false);
  });

  it('never sends stream_options to an include_usage:false upstream, and its answers still fold', async () => {
    await client().chat.completions.create(ask('gpt-4o'));
    const asked = mocks.cheap.requests.at(-1)?.body as Record<string, unknown> | undefined;
    const askedDear = mocks.dear.requests.at(-1)?.body as Record<string, unknown> | undefined;
    // The control: an upstream that takes them is asked for usage (one of the two answered).
    expect([asked?.stream_options, askedDear?.stream_options]).toContainEqual({ include_usage: true });

    const folded = await client().chat.completions.create(ask('deepseek-chat'));
    expect(folded.choices[0]?.message.content).toBe('echo: route me');
    expect(lastBodyOf('deepseek')).not.toHaveProperty('stream_options');
    expect(lastBodyOf('deepseek').stream).toBe(true);

    // A provider that reports usage unasked: the folded answer carries it.
    mocks.deepseek.enqueue({ kind: 'replay', sse: chatStreamWithUsage('deepseek-chat', 'counted') });
    const withUsage = await client().chat.completions.create(ask('deepseek-chat'));
    expect(withUsage.choices[0]?.message.content).toBe('counted');
    expect(withUsage.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 });
    expect(lastBodyOf('deepseek')).not.toHaveProperty('stream_options');

    // Streamed, the client's own stream_options are left out for it, and only for it.
    const streamed = await postJson(
      `${gateway().url}/v1/chat/completions`,
      chat('deepseek-chat', { stream: true, stream_options: { include_usage: true } }),
    );
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('echo');
    expect(lastBodyOf('deepseek')).not.toHaveProperty('stream_options');
    expect(lastBodyOf('deepseek').model).toBe('deepseek-chat');
  });

  it('fails over only inside the group that serves the model', async () => {
    const counts = await countedDuring(async () => {
      for (let i = 0; i < 6; i += 1) {
        const answer = await client().chat.completions.create(ask('flaky-model'));
        expect(answer.choices[0]?.message.content).toBe('echo: route me');
      }
      const streamed = await postJson(
        `${gateway().url}/v1/chat/completions`,
        chat('flaky-model', { stream: true }),
      );
      expect(streamed.status).toBe(200);
    });
    expect(counts.steady).toBe(7);
    expect(counts).toMatchObject({ cheap: 0, dear: 0, deepseek: 0, vllm: 0 });

    // Its only upstream fails: the failure is the answer, and nobody else is asked.
    const broken = await countedDuring(async () => {
      const folded = await postJson(`${gateway().url}/v1/chat/completions`, chat('broken-model'));
      expect(folded.status).toBe(500);
      const streamed = await postJson(
        `${gateway().url}/v1/chat/completions`,
        chat('broken-model', { stream: true }),
      );
      expect(streamed.status).toBe(500);
    });
    expect(broken).toEqual({ cheap: 0, dear: 0, deepseek: 0, vllm: 0, flaky: 2, steady: 0 });
  });
});

describe('weights', () => {
  it('splits 2,000 requests 4:1 within five binomial standard deviations', async () => {
    // Each request picks `cheap` with p = 4/5, independently: the count is Binomial(n = 2000, p =
    // 0.8), mean 1600, sigma = sqrt(n p (1-p)) = sqrt(320) ≈ 17.9. Five sigma, ±89, fails a correct
    // pick about once in 1.7 million runs, while an even split (1000) or a reversed one (400)
    // lands 30 and more sigma away.
    const total = 2000;
    const sigma = Math.sqrt(total * 0.8 * 0.2);
    const url = `${stack.gateways.standalone.url}/v1/chat/completions`;
    const counts = await countedDuring(async () => {
      let next = 0;
      const lane = async () => {
        while (next < total) {
          next += 1;
          const answer = await postJson(url, chat('gpt-4o', { stream: true }));
          expect(answer.status).toBe(200);
        }
      };
      await Promise.all(Array.from({ length: 16 }, lane));
    });
    expect(counts.cheap + counts.dear).toBe(total);
    expect(Math.abs(counts.cheap - 1600)).toBeLessThanOrEqual(5 * sigma);
    expect(counts).toMatchObject({ deepseek: 0, vllm: 0, flaky: 0, steady: 0 });
  }, 180_000);
});

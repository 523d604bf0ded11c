import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from './support/http.js';

// Issue 3, the rest of the surface: legacy completions, models, other /v1/* endpoints,
// unknown request fields forwarded untouched. The gateway runs in the test's process, the worker
// farm behind it as a process.

let stack: Stack;
let upstream: MockUpstream;
let gateway: InProcessGateway;

beforeAll(async () => {
  const started = await startStack({
    redis: true,
    upstreams: ['surface'],
    env: { QUEUE_PREFIX: `{surface-${process.pid}}` },
    gateways: { main: { run: 'in-process' } },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
  stack = started;
  upstream = started.upstreams.surface;
  gateway = started.gateways.main;
});
afterAll(() => stack?.stop());

const sdk = () => new OpenAI({ apiKey: 'sk-surface', baseURL: `${gateway.url}/v1`, maxRetries: 0 });

describe('POST /v1/completions (legacy)', () => {
  it('folds a non-stream request into a text_completion', async () => {
    const completion = await sdk().completions.create({ model: 'legacy', prompt: 'say this' });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0]?.text).toBe('echo: say this');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBe(3);
    const seen = upstream.requests.at(-1);
    expect(seen?.path).toBe('/v1/completions');
    expect(seen?.body).toMatchObject({ stream: true, prompt: 'say this' });
  });

  it('passes a streaming request through', async () => {
    const stream = await sdk().completions.create({ model: 'legacy', prompt: 'stream this', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe('echo: stream this');
  });
});

describe('a stream whose first event is slow to come', () => {
  it('gets its status line and headers as soon as the upstream sends them', async () => {
    upstream.enqueue({ kind: 'hang', afterHeaders: true });
    // Leaving, on success or not, ends the upstream call too: nothing hangs past the test.
    const client = new AbortController();
    const gaveUp = setTimeout(() => client.abort(new Error('no status line within 5 s')), 5_000);
    try {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-surface' },
        body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'wait' }] }),
        signal: client.signal,
      });
      // No event has come: only the headers can have resolved the call.
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
    } finally {
      clearTimeout(gaveUp);
      client.abort();
    }
  });
});

describe('other endpoints', () => {
  it('GET /v1/models is answered from an upstream', async () => {
    const models = await sdk().models.list();
    expect(models.data.map((model) => model.id)).toEqual(['mock-model']);
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer sk-surface');
  });

  it('POST /v1/embeddings is passed through unchanged', async () => {
    const embedding = await sdk().embeddings.create({
      model: 'emb',
      input: 'hello',
      encoding_format: 'float',
    });
    expect(embedding.data[0]?.embedding).toEqual([0.1, 0.2, 0.3]);
    expect(upstream.requests.at(-1)?.body).toEqual({
      model: 'emb',
      input: 'hello',
      encoding_format: 'float',
    });
  });

  it('unknown /v1 paths get the upstream 404 as is', async () => {
    const response = await fetch(`${gateway.url}/v1/does-not-exist?x=1`);
    expect(response.status).toBe(404);
    expect(upstream.requests.at(-1)?.path).toBe('/v1/does-not-exist');
  });
});

describe('request fields', () => {
  it('forwards fields the proxy does not know, untouched, on both paths', async () => {
    const extra = { temperature: 0.25, seed: 7, vendor_extension: { nested: [1, 'two', null] }, top_k: 3 };
    for (const stream of [false, true]) {
      const answer = await postJson(`${gateway.url}/v1/chat/completions`, {
        model: 'm',
        messages: [{ role: 'user', content: 'fields', name: 'alice' }],
        stream,
        ...extra,
      });
      expect(answer.status).toBe(200);
      expect(upstream.requests.at(-1)?.body).toMatchObject({
        ...extra,
        messages: [{ role: 'user', content: 'fields', name: 'alice' }],
        stream: true,
      });
    }
  });
});

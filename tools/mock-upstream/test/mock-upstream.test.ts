import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../src/index.js';

let mock: MockUpstream;

beforeEach(async () => {
  mock = await startMockUpstream({ port: 0, name: 'test-mock' });
});

afterEach(async () => {
  await mock.close();
});

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: JSON.stringify(body),
    ...init,
  });
}

function chat(extra: Record<string, unknown> = {}, init: RequestInit = {}): Promise<Response> {
  return post(
    '/v1/chat/completions',
    {
      model: 'gpt-test',
      stream: true,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'an answer' },
        { role: 'user', content: 'hello there world' },
      ],
      ...extra,
    },
    init,
  );
}

type Chunk = {
  id: string;
  object: string;
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: number;
    delta?: { role?: string; content?: string };
    text?: string;
    finish_reason: string | null;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
};

/** Splits an SSE body into its `data:` payloads; `[DONE]` stays a string. */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      expect(block.startsWith('data: ')).toBe(true);
      return block.slice('data: '.length);
    });
}

function chunks(text: string): Chunk[] {
  return events(text)
    .filter((e) => e !== '[DONE]')
    .map((e) => JSON.parse(e) as Chunk);
}

/** Reads a body until it ends or breaks; reports which. */
async function readUntilEnd(res: Response): Promise<{ text: string; failed: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, failed: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, failed: true };
  }
}

describe('chat completions', () => {
  it('rejects stream: false (and a missing stream) with 400 stream_required', async () => {
    for (const body of [
      { model: 'm', stream: false, messages: [] },
      { model: 'm', messages: [] },
    ]) {
      const res = await post('/v1/chat/completions', body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          message: 'This provider only supports stream: true',
          type: 'invalid_request_error',
          param: 'stream',
          code: 'stream_required',
        },
      });
    }
    expect(mock.stats.byPath['/v1/chat/completions']).toBe(2);
  });

  it('echoes the last user message one word per chunk, without usage unless asked', async () => {
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-mock-upstream')).toBe('test-mock');
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const parsed = chunks(text);
    expect(parsed[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const content = parsed.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(content).toBe('echo: hello there world');
    expect(parsed.slice(1, -1).map((c) => c.choices[0]!.delta!.content)).toEqual([
      'echo:',
      ' hello',
      ' there',
      ' world',
    ]);
    const last = parsed.at(-1)!;
    expect(last.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(parsed.some((c) => c.usage !== undefined)).toBe(false);
    for (const c of parsed) {
      expect(c).toMatchObject({
        id: parsed[0]!.id,
        object: 'chat.completion.chunk',
        created: parsed[0]!.created,
        model: 'gpt-test',
        system_fingerprint: 'fp_mock',
      });
    }
    expect(parsed[0]!.id).toMatch(/^chatcmpl-mock-\d+$/);

    const record = mock.requests.at(-1)!;
    expect(record.headers.authorization).toBe('Bearer sk-test');
    expect(record).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      completed: true,
      aborted: false,
    });
    expect((record.body as { model: string }).model).toBe('gpt-test');
    expect(mock.stats.completed).toBe(1);
  });

  it('adds a usage chunk with choices [] when include_usage is set', async () => {
    const res = await chat({ stream_options: { include_usage: true } });
    const parsed = chunks(await res.text());
    const usageChunks = parsed.filter((c) => c.usage !== undefined);
    expect(usageChunks).toHaveLength(1);
    expect(parsed.at(-1)).toBe(usageChunks[0]);
    expect(usageChunks[0]!.choices).toEqual([]);
    // prompt: "be brief" + "first question" + "an answer" + "hello there world" = 9 words
    expect(usageChunks[0]!.usage).toEqual({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });
  });

  it('honours n with one echo per choice index', async () => {
    const res = await chat({ n: 2 });
    const parsed = chunks(await res.text());
    for (const index of [0, 1]) {
      const mine = parsed.flatMap((c) => c.choices.filter((choice) => choice.index === index));
      expect(mine.map((choice) => choice.delta?.content ?? '').join('')).toBe('echo: hello there world');
      expect(mine[0]!.delta!.role).toBe('assistant');
      expect(mine.at(-1)!.finish_reason).toBe('stop');
    }
    expect(new Set(parsed.flatMap((c) => c.choices.map((choice) => choice.index)))).toEqual(new Set([0, 1]));
  });

  it('generates `words` words and paces chunks with chunkDelayMs', async () => {
    mock.setDefault({ kind: 'echo', words: 5, chunkDelayMs: 20 });
    const started = Date.now();
    const parsed = chunks(await (await chat()).text());
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(parsed.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('w1 w2 w3 w4 w5');
  });
});

describe('replay', () => {
  const sse =
    'data: {"id":"x","choices":[{"index":0,"delta":{"content":"héllo ✓ 🎉"}}]}\n\n' +
    ': a comment\r\n\r\n' +
    'event: message\ndata: {"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
    'data: [DONE]\n\n';
  const expected = Buffer.from(sse, 'utf8');

  it.each([
    ['whole', undefined],
    ['1 byte', 1],
    ['7 bytes', 7],
    ['random', 'random' as const],
  ])('returns byte-identical bytes when sliced %s', async (_label, sliceBytes) => {
    mock.enqueue({ kind: 'replay', sse, sliceBytes, seed: 42 });
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(expected)).toBe(true);
  });

  it('uses the given status and content type', async () => {
    mock.enqueue({ kind: 'replay', sse: 'oops', status: 502, contentType: 'text/plain', sliceBytes: 2 });
    const res = await chat();
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('oops');
  });
});

describe('failure behaviours', () => {
  it('answers a status behaviour with its headers and an OpenAI-shaped error', async () => {
    mock.enqueue({ kind: 'status', status: 429, headers: { 'Retry-After': '7' } });
    const res = await chat();
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.message).toContain('429');
    expect(body.error.type).toBe('rate_limit_error');
  });

  it('drops the connection after some chunks, without [DONE]', async () => {
    mock.enqueue({ kind: 'drop', afterChunks: 2 });
    const res = await chat();
    expect(res.status).toBe(200);
    const { text, failed } = await readUntilEnd(res);
    expect(failed).toBe(true);
    expect(text).not.toContain('[DONE]');
    const parsed = chunks(text);
    expect(parsed).toHaveLength(2);
    expect(parsed[1]!.choices[0]!.delta!.content).toBe('echo:');
    expect(mock.stats.aborted).toBe(0);
    expect(mock.stats.completed).toBe(0);
  });

  it('hangs until the client aborts, and counts the abort', async () => {
    mock.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const pending = chat({}, { signal: controller.signal });
    await mock.waitForRequests(1);
    expect(mock.stats.aborted).toBe(0);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await mock.waitForAborted(1);
    expect(mock.requests[0]).toMatchObject({ aborted: true, completed: false });
  });

  it('hangs after headers until the client aborts mid-body', async () => {
    mock.enqueue({ kind: 'hang', afterHeaders: true });
    const controller = new AbortController();
    const res = await chat({}, { signal: controller.signal });
    expect(res.status).toBe(200);
    const reading = readUntilEnd(res);
    controller.abort();
    expect((await reading).failed).toBe(true);
    await mock.waitForAborted(1);
    expect(mock.stats.aborted).toBe(1);
  });

  it('stops a paced echo when the client aborts', async () => {
    mock.setDefault({ kind: 'echo', words: 1000, chunkDelayMs: 5 });
    const controller = new AbortController();
    const res = await chat({}, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await mock.waitForAborted(1);
    expect(mock.requests[0]!.completed).toBe(false);
  });

  it('rejects waitForRequests after its timeout', async () => {
    await expect(mock.waitForRequests(1, 30)).rejects.toThrow(/timed out/);
  });
});

describe('other routes', () => {
  it('streams legacy text_completion chunks', async () => {
    const res = await post('/v1/completions', {
      model: 'davinci-test',
      prompt: 'say this',
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const parsed = chunks(text);
    expect(parsed.every((c) => c.object === 'text_completion' && c.model === 'davinci-test')).toBe(true);
    const withChoices = parsed.filter((c) => c.choices.length > 0);
    expect(withChoices.map((c) => c.choices[0]!.text).join('')).toBe('echo: say this');
    expect(withChoices.at(-1)!.choices[0]).toMatchObject({ text: '', finish_reason: 'stop', logprobs: null });
    expect(parsed.at(-1)!.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });

    const nonStream = await post('/v1/completions', { model: 'm', prompt: 'x' });
    expect(nonStream.status).toBe(400);
  });

  it('lists the models', async () => {
    const res = await fetch(`${mock.url}/v1/models`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      object: 'list',
      data: [{ id: 'mock-model', object: 'model', created: 0, owned_by: 'mock' }],
    });
  });

  it('answers embeddings as plain JSON', async () => {
    const res = await post('/v1/embeddings', { model: 'emb-test', input: 'hi' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'list', model: 'emb-test', data: [{ index: 0 }] });
  });

  it('answers unknown routes with an OpenAI-shaped 404', async () => {
    const res = await fetch(`${mock.url}/v1/nope?x=1`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain('/v1/nope');
    expect(mock.stats.byPath).toEqual({ '/v1/nope': 1 });
  });
});

describe('behaviour selection', () => {
  it('uses enqueued behaviours in order, then the default', async () => {
    mock.setDefault({ kind: 'status', status: 503 });
    mock.enqueue({ kind: 'status', status: 429 }, { kind: 'echo' });
    const first = await chat();
    expect(first.status).toBe(429);
    await first.text();
    const second = await chat();
    expect(second.status).toBe(200);
    expect(await second.text()).toContain('echo:');
    const third = await chat();
    expect(third.status).toBe(503);
    await third.text();
    const fourth = await chat();
    expect(fourth.status).toBe(503);
    await fourth.text();
    await mock.waitForRequests(4);
    expect(mock.stats.requests).toBe(4);
    expect(mock.requests.map((r) => r.path)).toEqual(Array(4).fill('/v1/chat/completions'));
  });

  it('does not consume a one-shot behaviour on a rejected stream:false request', async () => {
    mock.enqueue({ kind: 'status', status: 418 });
    expect((await chat({ stream: false })).status).toBe(400);
    expect((await chat()).status).toBe(418);
  });

  it('close is idempotent and ends hanging requests', async () => {
    mock.enqueue({ kind: 'hang' });
    const pending = chat().then(
      () => 'resolved',
      () => 'rejected',
    );
    await mock.waitForRequests(1);
    await Promise.all([mock.close(), mock.close()]);
    expect(await pending).toBe('rejected');
  });
});

describe('GET /mock/stats', () => {
  it('answers the live counters without counting itself', async () => {
    const answered = await chat();
    await answered.text();
    const first = (await (await fetch(`${mock.url}/mock/stats`)).json()) as {
      requests: number;
      completed: number;
    };
    const second = (await (await fetch(`${mock.url}/mock/stats`)).json()) as {
      requests: number;
      completed: number;
    };
    expect(first).toMatchObject({ requests: 1, completed: 1, byPath: { '/v1/chat/completions': 1 } });
    expect(second).toEqual(first);
    expect(mock.stats.requests).toBe(1);
  });
});

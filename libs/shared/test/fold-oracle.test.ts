import { readdirSync, readFileSync } from 'node:fs';
import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import { describe, expect, it } from 'vitest';
import { ChatCompletionFold } from '../src/chat/chat-fold.js';
import { type ChatCompletion, chatCompletionsApi, type FoldedAnswer, isProxyError } from '../src/index.js';
import { foldSse } from './fold-through-sink.js';

/**
 * The fold against three oracles:
 * 1. `ChatCompletionStream` from the official openai-node SDK, fed the same chunks, compared field
 *    by field on every field its accumulator covers;
 * 2. the fixture's own `expected` (OpenAI's answer as the SDK tests assert it) when it has one;
 * 3. expectations.json, written by hand for what the SDK does not cover or gets wrong;
 * and, last, the rest of the delta vocabulary on hand-made chunks, with hand-written answers.
 */

interface Fixture {
  name: string;
  source: string;
  sse: string;
  expected: Record<string, unknown> | null;
}

interface Expectation {
  why: string;
  completion?: Record<string, unknown>;
  texts?: Record<string, { prefix?: string; suffix?: string; length?: number }>;
  lengths?: Record<string, number>;
  patterns?: Record<string, string>;
  absent?: string[];
  error?: { code: string; status?: number; messageIncludes?: string };
}

type SdkCompletion = Awaited<ReturnType<ChatCompletionStream['finalChatCompletion']>>;
type Chunk = Record<string, unknown>;

const FIXTURE_DIR = new URL('./fixtures/streams/', import.meta.url);
const fixtures: Fixture[] = readdirSync(FIXTURE_DIR)
  .filter((name) => /^\d{2}-.*\.json$/.test(name))
  .sort()
  .map((name) => ({ ...(JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), 'utf8')) as Fixture), name }));
const expectations = (
  JSON.parse(readFileSync(new URL('expectations.json', FIXTURE_DIR), 'utf8')) as {
    fixtures: Record<string, Expectation>;
  }
).fixtures;

/**
 * Fixtures the SDK accumulator cannot fold, and why (see the fixtures README). Their expectations
 * are written by hand in expectations.json; the last describe block checks that the SDK still
 * fails on them, so that a fixed SDK shows up here.
 */
const SDK_CANNOT: Record<string, string> = {
  '34': 'tool call without `index`: the SDK files it under tool_calls[undefined] and the answer loses it',
  '35': '`content` as an array of typed parts: the SDK concatenates the objects into "[object Object]"',
  '36': 'no delta carries a `role`: the SDK throws "missing role for choice 0"',
  '60': 'chunks without a `choices` key: the SDK throws (and a trailing usage:null would erase usage)',
  '93': 'the stream ends with an error object: there is no answer to compare',
  '96': '`content` switches between a string and typed parts: "[object Object]" again',
  '97': 'tool call without `index`, as in 34',
  '98': 'a truncated prefix: there is no answer to compare',
};

const prefixOf = (fixture: Fixture): string => fixture.name.slice(0, 2);
const oracleFixtures = fixtures.filter((f) => SDK_CANNOT[prefixOf(f)] === undefined);
const answerFixtures = fixtures.filter((f) => expectations[f.name]?.error === undefined);
const encoder = new TextEncoder();

async function fold(fixture: Fixture): Promise<{ answer: FoldedAnswer; completion: ChatCompletion }> {
  const answer = await foldSse(chatCompletionsApi, fixture.sse);
  return { answer, completion: JSON.parse(answer.body) as ChatCompletion };
}

/** The stream's chunks, read naively (whole text, LF-framed events) and independently of the reader. */
function chunksOf(sse: string): Chunk[] {
  const chunks: Chunk[] = [];
  for (const event of sse.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data !== '' && data !== '[DONE]') chunks.push(JSON.parse(data) as Chunk);
  }
  return chunks;
}

/** Runs the SDK's accumulator over the chunks, fed as the newline-delimited JSON it reads. */
function sdkFinal(chunks: Chunk[]): Promise<SdkCompletion> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(`${JSON.stringify(chunk)}\n`));
      controller.close();
    },
  });
  return ChatCompletionStream.fromReadableStream(body).finalChatCompletion();
}

function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Drops `null` values: Python's SDK prints absent optional fields as None. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

/**
 * A fixture's `expected` choice as OpenAI's non-stream API would send it. Legitimate differences:
 * `parsed` / `parsed_arguments` are the SDKs' own parse results; Python prints absent optional
 * message fields (annotations, audio, function_call, tool_calls) as None; Python's accumulator
 * keeps the streamed tool-call `index`, which OpenAI's non-stream answer does not have.
 */
function asApiChoice(choice: Record<string, unknown>): Record<string, unknown> {
  const message = { ...(choice.message as Record<string, unknown>) };
  delete message.parsed;
  for (const key of ['annotations', 'audio', 'function_call', 'tool_calls']) {
    if (message[key] === null) delete message[key];
  }
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls = (message.tool_calls as Record<string, unknown>[]).map(
      ({ index: _index, ...call }) => {
        const { parsed_arguments: _parsed, ...fn } = call.function as Record<string, unknown>;
        return { ...call, function: fn };
      },
    );
  }
  return { ...choice, message };
}

describe('fold vs the official SDK accumulator (ChatCompletionStream.finalChatCompletion)', () => {
  it('covers every fixture the SDK can fold', () => {
    expect(oracleFixtures.length + Object.keys(SDK_CANNOT).length).toBe(fixtures.length);
    expect(oracleFixtures.length).toBe(35);
  });

  it.each(oracleFixtures)('$name', async (fixture) => {
    const chunks = chunksOf(fixture.sse);
    const sdk = await sdkFinal(chunks);
    const { completion: ours } = await fold(fixture);

    expect(ours.object).toBe('chat.completion');
    expect(sdk.object).toBe('chat.completion');
    expect(ours.id).toBe(sdk.id);
    expect(ours.model).toBe(sdk.model);
    // `created`: ours is the first chunk's, the SDK keeps the last chunk's; they differ only where
    // a provider restamps later chunks (33, 39, 40, 88), and then ours must be the first.
    const created = [
      ...new Set(chunks.map((c) => c.created).filter((c) => typeof c === 'number' && c !== 0)),
    ];
    if (created.length === 1) expect(ours.created).toBe(sdk.created);
    else expect(ours.created).toBe(created[0]);
    // The SDK leaves out an empty fingerprint; we keep the key (null) when the chunks had it.
    expect(ours.system_fingerprint ?? null).toBe(sdk.system_fingerprint ?? null);
    expect(ours.service_tier ?? null).toBe(sdk.service_tier ?? null);
    expect(ours.usage).toEqual(sdk.usage ?? null);

    expect(ours.choices.map((c) => c.index)).toEqual(sdk.choices.map((c) => c.index));
    for (const [i, sdkChoice] of sdk.choices.entries()) {
      const choice = ours.choices[i];
      expect(choice?.finish_reason).toBe(sdkChoice.finish_reason);
      expect(choice?.logprobs).toEqual(sdkChoice.logprobs);
      expect(choice?.message.role).toBe(sdkChoice.message.role);
      expect(choice?.message.content).toBe(sdkChoice.message.content);
      expect(choice?.message.refusal).toBe(sdkChoice.message.refusal);
      expect(choice?.message.tool_calls).toEqual(sdkChoice.message.tool_calls);
      expect(choice?.message.function_call).toEqual(sdkChoice.message.function_call);
    }
  });
});

describe("fold vs the fixture's expected answer (OpenAI's own, as the SDK tests assert it)", () => {
  const withExpected = fixtures.filter((f) => f.expected !== null);

  it('has the fifteen OpenAI fixtures that state one', () => {
    expect(withExpected.map(prefixOf)).toEqual([
      ...['41', '42', '43', '45', '46', '47', '48', '49', '50', '51', '52', '53', '54', '55', '56'],
    ]);
  });

  it.each(withExpected)('$name', async (fixture) => {
    const expected = fixture.expected ?? {};
    const { completion } = await fold(fixture);
    const choices = expected.choices as Record<string, unknown>[];
    expect(completion.choices).toEqual(choices.map(asApiChoice));
    // 42 states the whole completion. Its `metadata`/`moderation` are Python SDK fields, not API
    // fields; usage details printed as None were simply not in the stream.
    for (const key of ['id', 'object', 'created', 'model', 'system_fingerprint'] as const) {
      if (key in expected) expect(completion[key]).toBe(expected[key]);
    }
    if ('service_tier' in expected) expect(completion.service_tier ?? null).toBe(expected.service_tier);
    if ('usage' in expected) expect(completion.usage).toEqual(withoutNulls(expected.usage));
  });
});

describe('fold vs the hand-written expectations (expectations.json)', () => {
  it('names only fixtures that exist, and covers every fixture the SDK cannot fold', () => {
    const names = new Set(fixtures.map((f) => f.name));
    for (const name of Object.keys(expectations)) expect(names.has(name), name).toBe(true);
    for (const fixture of fixtures.filter((f) => SDK_CANNOT[prefixOf(f)] !== undefined)) {
      expect(expectations[fixture.name], fixture.name).toBeDefined();
    }
  });

  it.each(fixtures.filter((f) => expectations[f.name] !== undefined))('$name', async (fixture) => {
    const expectation = expectations[fixture.name];
    if (expectation === undefined) throw new Error('unreachable');
    if (expectation.error !== undefined) {
      const failure = await foldSse(chatCompletionsApi, fixture.sse).then(
        () => null,
        (error: unknown) => error,
      );
      expect(isProxyError(failure)).toBe(true);
      if (!isProxyError(failure)) return;
      expect(failure.code).toBe(expectation.error.code);
      expect(failure.status).toBe(expectation.error.status ?? 502);
      if (expectation.error.messageIncludes !== undefined) {
        expect(failure.message).toContain(expectation.error.messageIncludes);
      }
      return;
    }
    const { completion } = await fold(fixture);
    if (expectation.completion !== undefined) expect(completion).toMatchObject(expectation.completion);
    for (const [path, text] of Object.entries(expectation.texts ?? {})) {
      const value = at(completion, path);
      expect(typeof value, path).toBe('string');
      if (typeof value !== 'string') continue;
      if (text.prefix !== undefined) expect(value.startsWith(text.prefix), path).toBe(true);
      if (text.suffix !== undefined) expect(value.endsWith(text.suffix), path).toBe(true);
      if (text.length !== undefined) expect(value.length, path).toBe(text.length);
    }
    for (const [path, length] of Object.entries(expectation.lengths ?? {})) {
      expect(at(completion, path), path).toHaveLength(length);
    }
    for (const [path, pattern] of Object.entries(expectation.patterns ?? {})) {
      expect(at(completion, path), path).toMatch(new RegExp(pattern));
    }
    for (const path of expectation.absent ?? []) expect(at(completion, path), path).toBeUndefined();
  });
});

describe('every answer', () => {
  it.each(answerFixtures)(
    '$name: OpenAI key order, no stream-only fields, honest counters',
    async (fixture) => {
      const { answer, completion } = await fold(fixture);
      expect(Object.keys(completion).slice(0, 6)).toEqual([
        'id',
        'object',
        'created',
        'model',
        'choices',
        'usage',
      ]);
      for (const choice of completion.choices) {
        expect(Object.keys(choice).slice(0, 4)).toEqual(['index', 'message', 'logprobs', 'finish_reason']);
        expect(Object.keys(choice.message).slice(0, 3)).toEqual(['role', 'content', 'refusal']);
        for (const call of choice.message.tool_calls ?? [])
          expect(Object.keys(call)).toEqual(['id', 'type', 'function']);
        expect(choice.finish_reason).not.toBeNull();
      }
      expect(completion.object).toBe('chat.completion');
      expect(Number.isInteger(completion.created) && completion.created > 1_600_000_000).toBe(true);
      expect(answer.body).not.toContain('[object Object]');
      expect('obfuscation' in completion).toBe(false);
      expect(answer.chunks).toBe(chunksOf(fixture.sse).length);
      expect(answer.model).toBe(completion.model);
      const usage = completion.usage;
      expect(answer.usage).toEqual(
        usage === null
          ? null
          : { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens },
      );
    },
  );
});

describe('the SDK still mishandles the fixtures it is not used for', () => {
  const byPrefix = (prefix: string): Fixture => {
    const fixture = fixtures.find((f) => f.name.startsWith(`${prefix}-`));
    if (fixture === undefined) throw new Error(`fixture ${prefix} missing`);
    return fixture;
  };
  const sdkOutcome = (prefix: string): Promise<SdkCompletion | Error> =>
    sdkFinal(chunksOf(byPrefix(prefix).sse)).catch((error: unknown) => error as Error);

  it.each(['35', '96'])('%s: content parts become "[object Object]"', async (prefix) => {
    const outcome = await sdkOutcome(prefix);
    expect(outcome).not.toBeInstanceOf(Error);
    if (outcome instanceof Error) return;
    expect(outcome.choices[0]?.message.content).toContain('[object Object]');
  });

  it.each(['34', '97'])('%s: a tool call without index is lost', async (prefix) => {
    const outcome = await sdkOutcome(prefix);
    expect(outcome).not.toBeInstanceOf(Error);
    if (outcome instanceof Error) return;
    expect(outcome.choices[0]?.message.tool_calls).toEqual([]);
  });

  it('36: a stream without role makes the SDK throw', async () => {
    const outcome = await sdkOutcome('36');
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toContain('missing role');
  });

  it('60: chunks without choices make the SDK throw', async () => {
    const outcome = await sdkOutcome('60');
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toContain('choices is not iterable');
  });
});

describe('the delta vocabulary, on hand-made chunks', () => {
  const base = {
    id: 'chatcmpl-h',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-test',
  };
  const choice = (delta: Chunk | undefined, extra: Chunk = {}): Chunk => ({
    ...base,
    choices: [{ index: 0, delta, ...extra }],
  });
  const foldAll = (...chunks: Chunk[]): ChatCompletion => {
    const fold = new ChatCompletionFold();
    for (const chunk of chunks) fold.add(chunk);
    return fold.result();
  };
  const call = (fields: Chunk): Chunk => choice({ tool_calls: [fields] });

  it('merges parallel tool calls by index, after content, sorted, with id/type/name set once', () => {
    const result = foldAll(
      choice({ role: 'assistant', content: 'Let me check.' }),
      call({ index: 1, id: 'call_b', type: 'function', function: { name: 'stock', arguments: '' } }),
      call({ index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"ci' } }),
      call({ index: 1, id: '', function: { name: '', arguments: '{"t":"AAPL"}' } }),
      call({ index: 0, function: { arguments: 'ty":"Oslo"}' } }),
      choice({}, { finish_reason: 'tool_calls' }),
    );
    expect(result.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Let me check.',
      refusal: null,
      tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
        { id: 'call_b', type: 'function', function: { name: 'stock', arguments: '{"t":"AAPL"}' } },
      ],
    });
  });

  it('joins tool calls without index: a new id opens a call, anything else continues the last one', () => {
    const result = foldAll(
      call({ id: 'call_1', function: { name: 'first', arguments: '{"a":' } }),
      call({ function: { arguments: '1}' } }),
      call({ id: 'call_1', function: { arguments: '' } }),
      choice({
        tool_calls: [
          { id: 'call_2', function: { name: 'second', arguments: '{}' } },
          { id: 'call_3', function: { name: 'third', arguments: '[]' } },
        ],
      }),
      call({ function: { arguments: ' ' } }),
      choice({}, { finish_reason: 'tool_calls' }),
    );
    expect(result.choices[0]?.message.tool_calls).toEqual([
      { id: 'call_1', type: 'function', function: { name: 'first', arguments: '{"a":1}' } },
      { id: 'call_2', type: 'function', function: { name: 'second', arguments: '{}' } },
      { id: 'call_3', type: 'function', function: { name: 'third', arguments: '[] ' } },
    ]);
  });

  it('makes up an id for a call that never got one, the same on every result()', () => {
    const fold = new ChatCompletionFold();
    fold.add(call({ index: 0, function: { name: 'f', arguments: '{}' } }));
    const first = fold.result().choices[0]?.message.tool_calls?.[0];
    expect(first?.id).toMatch(/^call_[0-9a-f]{32}$/);
    expect(fold.result().choices[0]?.message.tool_calls?.[0]?.id).toBe(first?.id);
  });

  it('keeps provider fields on a tool call (Gemini extra_content), after id, type, function', () => {
    const result = foldAll(
      call({
        index: 0,
        id: 'c',
        type: 'function',
        function: { name: 'f', arguments: '{}' },
        extra_content: { google: { thought_signature: 'sig' } },
      }),
    );
    expect(result.choices[0]?.message.tool_calls).toEqual([
      {
        id: 'c',
        type: 'function',
        function: { name: 'f', arguments: '{}' },
        extra_content: { google: { thought_signature: 'sig' } },
      },
    ]);
  });

  it('folds a legacy function_call: name once, arguments joined, content null', () => {
    const result = foldAll(
      choice({ role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '' } }),
      choice({ function_call: { arguments: '{"q":' } }),
      choice({ function_call: { name: '', arguments: '"x"}' } }),
      choice({}, { finish_reason: 'function_call' }),
    );
    expect(result.choices[0]?.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      function_call: { name: 'lookup', arguments: '{"q":"x"}' },
    });
    expect(result.choices[0]?.finish_reason).toBe('function_call');
  });

  it('joins refusal and keeps content null; joins logprobs, which a later null does not erase', () => {
    const token = (t: string): Chunk => ({ token: t, logprob: -0.1, bytes: [], top_logprobs: [] });
    const result = foldAll(
      choice({ role: 'assistant', content: null, refusal: '' }, { logprobs: { content: null, refusal: [] } }),
      choice({ refusal: 'No' }, { logprobs: { content: null, refusal: [token('No')] } }),
      choice({ refusal: '.' }, { logprobs: { content: null, refusal: [token('.')] } }),
      choice({}, { logprobs: null, finish_reason: 'stop' }),
    );
    expect(result.choices[0]?.message).toEqual({ role: 'assistant', content: null, refusal: 'No.' });
    expect(result.choices[0]?.logprobs).toEqual({ content: null, refusal: [token('No'), token('.')] });
  });

  it('folds n > 1 interleaved choices, sorted by index, each with its own finish_reason', () => {
    const two = (index: number, delta: Chunk, finish: string | null = null): Chunk => ({
      ...base,
      choices: [{ index, delta, finish_reason: finish }],
    });
    const result = foldAll(
      two(1, { role: 'assistant', content: 'B' }),
      two(0, { role: 'assistant', content: 'A' }),
      two(1, { content: 'b' }, 'length'),
      two(0, { content: 'a' }),
      two(0, {}, 'stop'),
    );
    expect(result.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'Aa', 'stop'],
      [1, 'Bb', 'length'],
    ]);
  });

  it('takes the last non-null usage, from x_groq when there is no top-level usage', () => {
    const usage = (n: number): Chunk => ({ prompt_tokens: 5, completion_tokens: n, total_tokens: 5 + n });
    expect(
      foldAll(
        { ...choice({ content: 'a' }), usage: usage(1) },
        { ...choice({ content: 'b' }), usage: usage(2) },
        { ...base, choices: [], usage: null },
      ).usage,
    ).toEqual(usage(2));
    expect(
      foldAll(choice({ content: 'a' }), { ...base, choices: [], x_groq: { id: 'req', usage: usage(3) } })
        .usage,
    ).toEqual(usage(3));
    expect(
      foldAll({ ...choice({ content: 'a' }), usage: usage(4), x_groq: { usage: usage(9) } }).usage,
    ).toEqual(usage(4));
    expect(foldAll(choice({ content: 'a' })).usage).toBeNull();
  });

  it('takes the first non-empty id/model/fingerprint and the first non-zero created, in whole seconds', () => {
    const result = foldAll(
      { id: '', model: '', created: 0, system_fingerprint: null, choices: [] },
      {
        ...choice({ content: 'a' }),
        id: 'chatcmpl-real',
        model: 'm1',
        created: 1_700_000_001.75,
        system_fingerprint: 'fp_1',
      },
      {
        ...choice({ content: 'b' }),
        id: 'chatcmpl-other',
        model: 'm2',
        created: 1_700_000_009,
        system_fingerprint: 'fp_2',
      },
    );
    expect([result.id, result.model, result.created, result.system_fingerprint]).toEqual([
      'chatcmpl-real',
      'm1',
      1_700_000_001,
      'fp_1',
    ]);
    expect('service_tier' in result).toBe(false);

    const before = Math.floor(Date.now() / 1000);
    const undated = foldAll({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }] });
    expect(undated.created).toBeGreaterThanOrEqual(before);
    expect(undated.created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(undated.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(undated.model).toBe('');
  });

  it('joins unknown string delta fields, merges objects, keeps other values last-wins; null never erases', () => {
    const result = foldAll(
      choice({ role: 'assistant', reasoning_content: null, content: null }),
      choice({ reasoning_content: 'Think', meta: { a: 1 }, step: 1 }),
      choice({ reasoning_content: null, content: 'Answer', meta: { b: 2 }, step: 2 }),
      choice({ reasoning_content: 'ing', step: null }),
    );
    expect(result.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Answer',
      refusal: null,
      reasoning_content: 'Thinking',
      meta: { a: 1, b: 2 },
      step: 2,
    });
  });

  it('maps content parts: text to content, thinking to reasoning_content, others kept in content_parts', () => {
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } };
    const result = foldAll(
      choice({ role: 'assistant', content: [{ type: 'thinking', thinking: 'Plan. ' }] }),
      choice({
        content: [
          { type: 'thinking', thinking: [{ type: 'text', text: 'More.' }] },
          { type: 'text', text: 'Hi' },
        ],
      }),
      choice({ content: [image] }),
      choice({ content: ' there' }, { finish_reason: 'stop' }),
    );
    expect(result.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Hi there',
      refusal: null,
      reasoning_content: 'Plan. More.',
      content_parts: [image],
    });
    expect(JSON.stringify(result)).not.toContain('[object Object]');
  });

  it('joins audio data and transcript, keeps id and expires_at, and annotations are appended', () => {
    const citation = (n: number): Chunk => ({
      type: 'url_citation',
      url_citation: { url: `https://e.x/${n}` },
    });
    const result = foldAll(
      choice({ role: 'assistant', audio: { id: 'audio_1', transcript: 'He' } }),
      choice({ audio: { id: 'audio_1', data: 'AAA', transcript: 'llo' }, annotations: [citation(1)] }),
      choice({ audio: { data: 'BBB' }, annotations: [citation(2)] }),
      choice({ audio: { expires_at: 1_700_003_600 } }),
    );
    expect(result.choices[0]?.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      audio: { id: 'audio_1', expires_at: 1_700_003_600, data: 'AAABBB', transcript: 'Hello' },
      annotations: [citation(1), citation(2)],
    });
    expect(result.choices[0]?.finish_reason).toBe('stop');
  });

  it('keeps choice fields from delta-less choices, even after the finish, without erasing the finish', () => {
    const fold = new ChatCompletionFold();
    fold.add(
      choice({ role: 'assistant', content: 'ok' }, { content_filter_results: { hate: { filtered: false } } }),
    );
    fold.add(choice({}, { finish_reason: 'stop' }));
    expect(fold.isFinished()).toBe(true);
    fold.add({
      id: '',
      model: '',
      created: 0,
      choices: [{ index: 0, finish_reason: null, content_filter_results: { violence: { filtered: true } } }],
    });
    fold.add({ ...base });
    fold.add({ ...base, choices: [] });
    const result = fold.result();
    expect(fold.chunkCount).toBe(5);
    expect(fold.isFinished()).toBe(true);
    expect(result.id).toBe('chatcmpl-h');
    expect(result.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: 'ok', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
        content_filter_results: { hate: { filtered: false }, violence: { filtered: true } },
      },
    ]);
  });

  it('keeps content "" for an empty text answer, null when no content string came at all', () => {
    expect(
      foldAll(choice({ role: 'assistant', content: '' }, { finish_reason: 'stop' })).choices[0]?.message
        .content,
    ).toBe('');
    expect(
      foldAll(choice({ role: 'assistant' }, { finish_reason: 'stop' })).choices[0]?.message.content,
    ).toBeNull();
  });

  it('keeps the first role and defaults to assistant', () => {
    expect(foldAll(choice({ content: 'x' })).choices[0]?.message.role).toBe('assistant');
    expect(
      foldAll(choice({ role: 'assistant' }), choice({ role: 'tool', content: 'x' })).choices[0]?.message.role,
    ).toBe('assistant');
  });

  it('is not finished before a choice came, nor while one is open', () => {
    const fold = new ChatCompletionFold();
    expect(fold.isFinished()).toBe(false);
    fold.add(choice({ content: 'x' }));
    expect(fold.isFinished()).toBe(false);
  });

  it('cannot be made to touch a prototype through a __proto__ key', () => {
    const evil = JSON.parse(
      '{"id":"c","choices":[{"index":0,"delta":{"content":"x","__proto__":{"polluted":1}},"__proto__":{"polluted":2}}],"__proto__":{"polluted":3}}',
    ) as Chunk;
    const result = foldAll(evil);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(result.choices[0])).toBe(Object.prototype);
    expect(Object.getPrototypeOf(result.choices[0]?.message)).toBe(Object.prototype);
    expect((result as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

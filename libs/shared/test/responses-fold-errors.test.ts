import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { isProxyError, type ProxyError } from '../src/fold/errors.js';
import { responsesApi } from '../src/index.js';
import type { ResponseObject } from '../src/responses/index.js';
import { foldSse } from './fold-through-sink.js';
import {
  bodyOf,
  type JsonEvent,
  loadSseFixtures,
  rejectionOf,
  replayFetch,
  sseBlocks,
  sseOf,
} from './sse-fixtures.js';

/**
 * Broken, failed and unusual Responses streams. No public recording has a refusal, an incomplete
 * response, an error after output began or a cut stream (see the fixtures README), so these are
 * made by hand, in OpenAI's event shapes; where the SDK can fold them, it is the oracle still.
 */

const RESPONSE = {
  id: 'resp_1',
  object: 'response',
  created_at: 1_760_000_000,
  status: 'in_progress',
  error: null,
  incomplete_details: null,
  model: 'gpt-test',
  output: [],
  usage: null,
};
const USAGE = { input_tokens: 7, output_tokens: 3, total_tokens: 10 };
const MESSAGE = { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
const TEXT_PART = { type: 'output_text', text: '', annotations: [], logprobs: [] };

const created = { type: 'response.created', response: RESPONSE };
const inProgress = { type: 'response.in_progress', response: RESPONSE };

/** A message item streamed with `parts`: [part type, field, text deltas]. */
function messageEvents(parts: [string, 'text' | 'refusal', string[]][], outputIndex = 0): JsonEvent[] {
  const done = {
    ...MESSAGE,
    status: 'completed',
    content: parts.map(([type, field, deltas]) =>
      type === 'output_text'
        ? { ...TEXT_PART, [field]: deltas.join('') }
        : { type, [field]: deltas.join('') },
    ),
  };
  const events: JsonEvent[] = [
    { type: 'response.output_item.added', output_index: outputIndex, item: MESSAGE },
  ];
  for (const [index, [type, field, deltas]] of parts.entries()) {
    const where = { output_index: outputIndex, item_id: 'msg_1', content_index: index };
    const empty = type === 'output_text' ? TEXT_PART : { type, [field]: '' };
    const eventName = type === 'output_text' ? 'output_text' : 'refusal';
    events.push({ type: 'response.content_part.added', ...where, part: empty });
    for (const delta of deltas)
      events.push({ type: `response.${eventName}.delta`, ...where, delta, obfuscation: 'x' });
    events.push({ type: `response.${eventName}.done`, ...where, [field]: deltas.join('') });
    events.push({ type: 'response.content_part.done', ...where, part: done.content[index] });
  }
  events.push({ type: 'response.output_item.done', output_index: outputIndex, item: done });
  return events;
}

function finalEvent(type: string, output: unknown[], extra: Record<string, unknown> = {}): JsonEvent {
  return {
    type,
    response: { ...RESPONSE, status: type.slice('response.'.length), output, usage: USAGE, ...extra },
  };
}

const HELLO = messageEvents([['output_text', 'text', ['Hel', 'lo']]]);
const HELLO_ITEM = (HELLO.at(-1) as { item: Record<string, unknown> }).item;

async function answerOf(
  ...events: (JsonEvent | string)[]
): Promise<{ response: ResponseObject; mismatches: string[] | undefined }> {
  const answer = await foldSse(responsesApi, bodyOf(sseOf(...events)));
  return { response: JSON.parse(answer.body) as ResponseObject, mismatches: answer.mismatches };
}

async function failure(...events: (JsonEvent | string)[]): Promise<ProxyError> {
  const error = await rejectionOf(foldSse(responsesApi, bodyOf(sseOf(...events))));
  if (!isProxyError(error)) throw new Error(`expected a ProxyError, got ${String(error)}`);
  return error;
}

function sdkFinal(sse: string): Promise<unknown> {
  const client = new OpenAI({ apiKey: 'test', baseURL: 'http://127.0.0.1:9/v1', fetch: replayFetch(sse) });
  return client.responses.stream({ model: 'test', input: 'test' }).finalResponse();
}

describe('an error event', () => {
  it.each([
    ['insufficient_quota', 429, 'rate_limit_error', 'insufficient_quota'],
    ['rate_limit_exceeded', 429, 'rate_limit_error', 'rate_limit_exceeded'],
    ['invalid_prompt', 400, 'invalid_request_error', 'invalid_prompt'],
    ['context_length_exceeded', 400, 'invalid_request_error', 'context_length_exceeded'],
    ['invalid_api_key', 401, 'authentication_error', 'invalid_api_key'],
    ['vector_store_timeout', 504, 'timeout_error', 'vector_store_timeout'],
    ['server_error', 500, 'server_error', 'server_error'],
    ['something_new', 502, 'upstream_error', 'upstream_stream_error'],
  ])('with code %s is a %i %s (%s)', async (code, status, type, ourCode) => {
    const error = await failure(created, {
      type: 'error',
      sequence_number: 2,
      error: { type: code, code, message: 'It went wrong', param: 'input' },
    });
    expect(error.status).toBe(status);
    expect(error.toBody().error.type).toBe(type);
    expect(error.toBody().error.code).toBe(ourCode);
    expect(error.param).toBe('input');
    expect(error.message).toContain('It went wrong');
    if (ourCode === 'upstream_stream_error') expect(error.message).toContain(`[${code}]`);
    expect(error.toBody().error).toEqual({ message: error.message, type, param: 'input', code: ourCode });
  });

  it("accepts the SDK types' flat shape (code and message on the event) and a bare string", async () => {
    const flat = await failure(created, {
      type: 'error',
      code: 'rate_limit_exceeded',
      message: 'Slow down',
      param: null,
    });
    expect(flat.status).toBe(429);
    expect(flat.message).toContain('Slow down');
    const bare = await failure(created, { type: 'response.in_progress', error: 'overloaded' });
    expect(bare.status).toBe(502);
    expect(bare.message).toContain('overloaded');
  });

  it('after output began is still an error, never the part that came', async () => {
    const error = await failure(created, ...HELLO.slice(0, 4), {
      type: 'error',
      code: 'server_error',
      message: 'boom',
    });
    expect(error.code).toBe('upstream_stream_error');
    expect(error.status).toBe(500);
  });
});

describe('response.failed', () => {
  it("is an error with its response's error, mapped like an error event", async () => {
    const failed = finalEvent('response.failed', [], {
      error: { code: 'rate_limit_exceeded', message: 'Too fast' },
    });
    const error = await failure(created, failed);
    expect(error.status).toBe(429);
    expect(error.toBody().error.code).toBe('rate_limit_exceeded');
    expect(error.message).toContain('Too fast');
    expect(error.message).toContain('response.failed');
  });

  it('without an error object, or after output, is a 502', async () => {
    const bare = await failure(created, ...HELLO, finalEvent('response.failed', [HELLO_ITEM]));
    expect(bare.status).toBe(502);
    expect(bare.code).toBe('upstream_stream_error');
  });

  it('fixture 16 (error event, then response.failed) is a 429 insufficient_quota', async () => {
    const fixture = loadSseFixtures('responses-streams').find((f) => f.prefix === '16');
    if (fixture === undefined) throw new Error('fixture 16 is missing');
    const error = await rejectionOf(foldSse(responsesApi, bodyOf(fixture.sse)));
    expect(isProxyError(error) && [error.status, error.toBody().error.code]).toEqual([
      429,
      'insufficient_quota',
    ]);
    expect(fixture.expected?.error).toMatchObject({ code: 'insufficient_quota' });
  });
});

describe('a malformed event', () => {
  it.each([
    ['not JSON', '{"type": "response.output_text.delta", "delta": '],
    ['a JSON array', '[1, 2]'],
    ['a JSON string', '"hello"'],
    ['JSON null', 'null'],
  ])('%s is a 502 upstream_malformed_chunk', async (_label, data) => {
    const error = await failure(created, ...HELLO.slice(0, 3), data);
    expect(error.code).toBe('upstream_malformed_chunk');
    expect(error.status).toBe(502);
  });

  it('a final event without its response is a 502 upstream_malformed_chunk', async () => {
    const error = await failure(created, ...HELLO, { type: 'response.completed' });
    expect(error.code).toBe('upstream_malformed_chunk');
  });
});

describe('a stream cut before its final event', () => {
  it('with an item still open is a 502 upstream_stream_truncated', async () => {
    const error = await failure(created, inProgress, ...HELLO.slice(0, 4));
    expect(error.code).toBe('upstream_stream_truncated');
    expect(error.status).toBe(502);
    expect(error.message).toContain('1 of 1 output items unfinished');
  });

  it('fixture 06 cut at each of several places mid-item is truncated', async () => {
    const fixture = loadSseFixtures('responses-streams').find((f) => f.prefix === '06');
    const blocks = sseBlocks(fixture?.sse ?? '');
    for (const cut of [3, 10, 400, blocks.length - 3]) {
      const error = await rejectionOf(foldSse(responsesApi, bodyOf(blocks.slice(0, cut).join('\n\n'))));
      expect(isProxyError(error) && error.code, `cut after ${cut} events`).toBe('upstream_stream_truncated');
    }
  });

  it('anywhere before the item is done, mid-event too, is malformed or truncated, never an answer', async () => {
    const text = sseOf(created, ...HELLO);
    const itemDone = sseOf(created, ...HELLO.slice(0, -1)).length;
    for (let cut = 1; cut < itemDone; cut += 7) {
      const error = await rejectionOf(foldSse(responsesApi, bodyOf(text.slice(0, cut))));
      expect(isProxyError(error) && error.status, `cut at ${cut}`).toBe(502);
    }
  });

  it('before any item (or with nothing at all) is truncated; [DONE] with nothing before it is empty', async () => {
    expect((await failure(created, inProgress)).code).toBe('upstream_stream_truncated');
    expect((await failure()).code).toBe('upstream_stream_truncated');
    expect((await failure('[DONE]')).code).toBe('upstream_stream_empty');
    expect((await failure(created, '[DONE]')).code).toBe('upstream_stream_empty');
    expect((await failure(created, ...HELLO.slice(0, 3), '[DONE]')).code).toBe('upstream_stream_truncated');
  });

  it('with every item finished is rebuilt from the items (a server without final events)', async () => {
    const { response, mismatches } = await answerOf(created, inProgress, ...HELLO);
    expect(response).toEqual({ ...RESPONSE, status: 'completed', output: [HELLO_ITEM] });
    expect(mismatches).toEqual([]);
  });

  it('rebuilds without any lifecycle event, making up an id', async () => {
    const answer = await foldSse(responsesApi, bodyOf(sseOf(...HELLO)));
    const response = JSON.parse(answer.body) as ResponseObject;
    expect(response.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(response).toMatchObject({
      object: 'response',
      status: 'completed',
      output: [HELLO_ITEM],
      usage: null,
    });
    expect(answer.model).toBeNull();
    expect(answer.usage).toBeNull();
  });
});

describe('the final event', () => {
  it('response.incomplete is an answer (200), as a non-stream call gives it', async () => {
    const incomplete = finalEvent('response.incomplete', [{ ...HELLO_ITEM, status: 'incomplete' }], {
      incomplete_details: { reason: 'max_output_tokens' },
    });
    const sse = sseOf(created, ...HELLO, incomplete);
    const answer = await foldSse(responsesApi, bodyOf(sse));
    const ours = JSON.parse(answer.body) as ResponseObject;
    expect(ours.status).toBe('incomplete');
    expect(ours.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(answer.usage).toEqual({ prompt_tokens: 7, completion_tokens: 3 });
    const {
      output_text: _text,
      output_parsed: _parsed,
      ...sdk
    } = JSON.parse(JSON.stringify(await sdkFinal(sse)));
    expect(ours.incomplete_details).toEqual(sdk.incomplete_details);
    expect(ours.status).toBe(sdk.status);
  });

  it('wins over the deltas where they disagree, and the disagreement is reported', async () => {
    const other = { ...HELLO_ITEM, content: [{ ...TEXT_PART, text: 'Hello!' }] };
    const { response, mismatches } = await answerOf(
      created,
      ...HELLO,
      finalEvent('response.completed', [other]),
    );
    expect(response.output).toEqual([other]);
    expect(mismatches).toEqual(['output[0].content.0.text differs from the stream']);
  });

  it('reports items the final output lacks or has in excess, and a changed type', async () => {
    const call = {
      type: 'function_call',
      id: 'fc_1',
      call_id: 'call_1',
      name: 'f',
      arguments: '{}',
      status: 'completed',
    };
    const extra = await answerOf(created, ...HELLO, finalEvent('response.completed', [HELLO_ITEM, call]));
    expect(extra.mismatches).toEqual(['output has 2 items, the stream built 1']);
    const changed = await answerOf(created, ...HELLO, finalEvent('response.completed', [call]));
    expect(changed.mismatches).toEqual(['output[0] is a function_call, the stream built a message']);
  });

  it('with an empty output gets the streamed items (a server that keeps its final event lean)', async () => {
    const { response, mismatches } = await answerOf(created, ...HELLO, finalEvent('response.completed', []));
    expect(response.output).toEqual([HELLO_ITEM]);
    expect(response.usage).toEqual(USAGE);
    expect(mismatches).toEqual([]);
  });

  // A reset after the final event is no error either: tests/integration/fold-broken-bodies.test.ts.
  it('ends reading: later events do not count and the body is read to its end', async () => {
    let reads = 0;
    function* body(): Generator<string> {
      reads += 1;
      yield sseOf(created, ...HELLO, finalEvent('response.completed', [HELLO_ITEM]));
      reads += 1;
      yield sseOf({ type: 'error', code: 'server_error', message: 'late' });
    }
    const answer = await foldSse(responsesApi, body());
    expect(answer.chunks).toBe(1 + HELLO.length + 1);
    expect(reads).toBe(2);
  });
});

describe('a refusal (no public recording has one)', () => {
  const refusal = messageEvents([['refusal', 'refusal', ["I can't ", 'help with that.']]]);
  const refusalItem = (refusal.at(-1) as { item: Record<string, unknown> }).item;

  it('comes through as a refusal part, as the SDK folds it', async () => {
    const sse = sseOf(created, ...refusal, finalEvent('response.completed', [refusalItem]));
    const answer = await foldSse(responsesApi, bodyOf(sse));
    const ours = JSON.parse(answer.body) as ResponseObject;
    expect(ours.output).toEqual([refusalItem]);
    expect(answer.mismatches).toEqual([]);
    const sdk = JSON.parse(JSON.stringify(await sdkFinal(sse))) as {
      output: { content: Record<string, unknown>[] }[];
    };
    // `parsed` is the SDK's own addition to every message part.
    const sdkOutput = sdk.output.map((item) => ({
      ...item,
      content: item.content.map(({ parsed: _parsed, ...part }) => part),
    }));
    expect(ours.output).toEqual(sdkOutput);
  });

  it('is cross-checked against its deltas', async () => {
    const changed = { ...refusalItem, content: [{ type: 'refusal', refusal: 'No.' }] };
    const { mismatches } = await answerOf(created, ...refusal, finalEvent('response.completed', [changed]));
    expect(mismatches).toEqual(['output[0].content.0.refusal differs from the stream']);
  });
});

describe('the deltas', () => {
  it('build interleaved parallel calls, and unknown events are ignored', async () => {
    const call = (index: number, name: string, parts: string[]): JsonEvent[] => {
      const item = {
        type: 'function_call',
        id: `fc_${index}`,
        call_id: `call_${index}`,
        name,
        arguments: '',
        status: 'in_progress',
      };
      return [
        { type: 'response.output_item.added', output_index: index, item },
        ...parts.map((delta) => ({
          type: 'response.function_call_arguments.delta',
          output_index: index,
          delta,
        })),
        { type: 'keepalive', sequence_number: 9 },
      ];
    };
    const doneCall = (index: number, name: string, args: string) => ({
      type: 'response.output_item.done',
      output_index: index,
      item: {
        type: 'function_call',
        id: `fc_${index}`,
        call_id: `call_${index}`,
        name,
        arguments: args,
        status: 'completed',
      },
    });
    // Interleaved: the second call starts before the first is done.
    const events = [
      created,
      ...call(0, 'a', ['{"x"', ':1}']),
      ...call(1, 'b', ['{}']),
      doneCall(1, 'b', '{}'),
      doneCall(0, 'a', '{"x":1}'),
    ];
    const { response, mismatches } = await answerOf(...events);
    expect(response.output.map((item) => [item.name, item.arguments])).toEqual([
      ['a', '{"x":1}'],
      ['b', '{}'],
    ]);
    expect(mismatches).toEqual([]);
    const wrong = await answerOf(...events.slice(0, -1), doneCall(0, 'a', '{"x":2}'));
    expect(wrong.mismatches).toEqual(['output[0].arguments differs from the stream']);
  });

  it('are the answer when a lean final event names no items and no item was done', async () => {
    const where = { output_index: 0, item_id: 'msg_1', content_index: 0 };
    const annotation = {
      type: 'url_citation',
      url: 'https://example.com',
      start_index: 0,
      end_index: 2,
      title: 't',
    };
    const token = (text: string) => ({ token: text, bytes: [], logprob: -0.5, top_logprobs: [] });
    const custom = { type: 'custom_tool_call', id: 'ctc_1', call_id: 'call_1', name: 'sh', input: '' };
    const events: JsonEvent[] = [
      created,
      { type: 'response.output_item.added', output_index: 0, item: MESSAGE },
      { type: 'response.content_part.added', ...where, part: TEXT_PART },
      { type: 'response.output_text.delta', ...where, delta: 'Hi', logprobs: [token('Hi')] },
      { type: 'response.output_text.delta', ...where, delta: ' you', logprobs: [token(' you')] },
      { type: 'response.output_text.annotation.added', ...where, annotation_index: 0, annotation },
      { type: 'response.output_item.added', output_index: 1, item: custom },
      { type: 'response.custom_tool_call_input.delta', output_index: 1, delta: 'ls ' },
      { type: 'response.custom_tool_call_input.delta', output_index: 1, delta: '-la' },
      finalEvent('response.completed', []),
    ];
    const { response } = await answerOf(...events);
    expect(response.output).toEqual([
      {
        ...MESSAGE,
        content: [
          { ...TEXT_PART, text: 'Hi you', annotations: [annotation], logprobs: [token('Hi'), token(' you')] },
        ],
      },
      { ...custom, input: 'ls -la' },
    ]);
  });

  it('never make a sparse array from an index an upstream names', async () => {
    const where = { output_index: 0, item_id: 'msg_1' };
    const { response } = await answerOf(
      created,
      { type: 'response.output_item.added', ...where, item: MESSAGE },
      { type: 'response.content_part.added', ...where, content_index: 1e9, part: TEXT_PART },
      { type: 'response.output_text.delta', ...where, content_index: 0, delta: 'x' },
      {
        type: 'response.output_text.annotation.added',
        ...where,
        content_index: 0,
        annotation_index: 5e8,
        annotation: {},
      },
      finalEvent('response.completed', []),
    );
    expect(response.output).toEqual([
      { ...MESSAGE, content: [{ ...TEXT_PART, text: 'x', annotations: [{}] }] },
    ]);
  });
});

import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { type AnthropicMessage, foldMessagesStream } from '../src/messages/index.js';
import { bodyOf, eventsOf, loadSseFixtures, replayFetch, type SseFixture } from './sse-fixtures.js';

/**
 * The Messages fold against its oracles, on the 23 recorded streams:
 * 1. the official @anthropic-ai/sdk, `client.messages.stream(...).finalMessage()`, fed each
 *    recording through its `fetch`, compared field by field and block by block;
 * 2. the two `.expected.json` files (the final messages the Python SDK's tests assert);
 * 3. for the one stream where we differ from the SDK on purpose, an expectation written by hand.
 */

const fixtures = loadSseFixtures('messages-streams');

type Json = Record<string, unknown>;

const PARAMS = { model: 'test', max_tokens: 1024, messages: [{ role: 'user' as const, content: 'test' }] };

/**
 * Fixtures that use beta features, which only the SDK's beta accumulator folds: the GA one drops
 * `compaction_delta` and the top-level `context_management` of `message_delta`, and leaves an
 * `mcp_tool_use` input `{}`.
 */
const BETA: Record<string, string> = {
  '13': 'mcp_tool_use (MCP connector) with input_json_delta',
  '17': 'compaction block (compaction_delta) and context_management',
  '23': 'context_management in message_delta',
};

/**
 * Where we differ from the SDK on purpose. 16 stops at `max_tokens` inside a tool input: the SDK
 * parses the unfinished JSON partially, we keep the input the block started with, `{}`, because the
 * partial-JSON parser that would take is not one of our runtime dependencies (see
 * content-block-fold.ts). The stop reason tells the client the call is unfinished either way.
 */
const DIFFERS_FROM_SDK: Record<string, string> = {
  '16': 'max_tokens inside a tool input: the SDK parses it partially, we keep {}',
};

async function fold(sse: string): Promise<AnthropicMessage> {
  return JSON.parse((await foldMessagesStream(bodyOf(sse))).body) as AnthropicMessage;
}

async function sdkFinal(fixture: SseFixture): Promise<Json> {
  const client = new Anthropic({
    apiKey: 'test',
    baseURL: 'http://127.0.0.1:9',
    fetch: replayFetch(fixture.sse),
  });
  const stream =
    BETA[fixture.prefix] === undefined ? client.messages.stream(PARAMS) : client.beta.messages.stream(PARAMS);
  // Through JSON, as a client would receive it; `parsed_output` is the SDK's own addition.
  const { parsed_output: _parsed, ...message } = JSON.parse(
    JSON.stringify(await stream.finalMessage()),
  ) as Json;
  return message;
}

function expectFieldByField(ours: Json, oracle: Json, skip: string[] = []): void {
  for (const key of new Set([...Object.keys(ours), ...Object.keys(oracle)])) {
    if (!skip.includes(key)) expect(ours[key], key).toEqual(oracle[key]);
  }
}

/** Drops `null` values: the expected files were dumped with `exclude_none`. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

const sdkFixtures = fixtures.filter((f) => DIFFERS_FROM_SDK[f.prefix] === undefined);

describe('fold vs the Anthropic SDK (messages.stream().finalMessage())', () => {
  it('covers every fixture but the one written by hand', () => {
    expect(fixtures.length).toBe(23);
    expect(sdkFixtures.length).toBe(22);
  });

  it.each(sdkFixtures)('$name', async (fixture) => {
    const ours = await fold(fixture.sse);
    const sdk = await sdkFinal(fixture);
    expectFieldByField(ours, sdk, ['content']);
    const sdkContent = sdk.content as Json[];
    expect(ours.content.length).toBe(sdkContent.length);
    for (const [index, block] of sdkContent.entries()) {
      expectFieldByField(ours.content[index] ?? {}, block);
    }
  });

  it('16 (by hand): the SDK differs only in the unfinished tool input', async () => {
    const fixture = fixtures.find((f) => f.prefix === '16');
    if (fixture === undefined) throw new Error('fixture 16 is missing');
    const ours = await fold(fixture.sse);
    const sdk = await sdkFinal(fixture);
    expectFieldByField(ours, sdk, ['content']);
    const [text, tool] = ours.content;
    const [sdkText, sdkTool] = sdk.content as Json[];
    expect(text).toEqual(sdkText);
    expect(ours.stop_reason).toBe('max_tokens');
    expect(tool).toEqual({ ...sdkTool, input: {} });
    expect(sdkTool?.input).toMatchObject({ filename: 'taxes.txt' });
  });
});

describe("fold vs the fixtures' expected.json (the Python SDK tests' final messages)", () => {
  const withExpected = fixtures.filter((f) => f.expected !== null);

  it('has the two fixtures that state one', () => {
    expect(withExpected.map((f) => f.prefix)).toEqual(['03', '16']);
  });

  it('03: the whole message', async () => {
    const fixture = withExpected[0];
    expect(withoutNulls(await fold(fixture?.sse ?? ''))).toEqual(fixture?.expected);
  });

  it('16: the whole message but the unfinished tool input (see DIFFERS_FROM_SDK)', async () => {
    const fixture = withExpected[1];
    const expected = structuredClone(fixture?.expected ?? {}) as { content: Json[] };
    const tool = expected.content[1];
    if (tool === undefined) throw new Error('fixture 16 has no tool block');
    tool.input = {};
    expect(withoutNulls(await fold(fixture?.sse ?? ''))).toEqual(expected);
  });
});

describe('every answer', () => {
  it.each(fixtures)('$name: the key order of message_start, honest counters', async (fixture) => {
    const answer = await foldMessagesStream(bodyOf(fixture.sse));
    const message = JSON.parse(answer.body) as AnthropicMessage;
    const events = eventsOf(fixture.sse);
    const start = (events[0]?.message ?? {}) as Json;
    expect(Object.keys(message).slice(0, Object.keys(start).length)).toEqual(Object.keys(start));
    expect(answer.chunks).toBe(events.length);
    expect(answer.model).toBe(message.model);
    const usage = message.usage;
    const cached = (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
    expect(answer.usage).toEqual({
      prompt_tokens: usage.input_tokens + cached,
      completion_tokens: usage.output_tokens,
    });
    for (const block of message.content) {
      if ('input' in block) expect(typeof block.input).toBe('object');
    }
  });
});

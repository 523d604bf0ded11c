import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { messagesApi } from '../src/index.js';
import type { AnthropicMessage } from '../src/messages/index.js';
import { foldSse } from './fold-through-sink.js';
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

async function fold(sse: string): Promise<AnthropicMessage> {
  return JSON.parse((await foldSse(messagesApi, bodyOf(sse))).body) as AnthropicMessage;
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

describe('fold vs the Anthropic SDK (messages.stream().finalMessage())', () => {
  it('covers every fixture', () => {
    expect(fixtures.length).toBe(23);
  });

  // 16 stops at max_tokens inside a tool input: the input is what was streamed, parsed partially as
  // the SDK does it.
  it.each(fixtures)('$name', async (fixture) => {
    const ours = await fold(fixture.sse);
    const sdk = await sdkFinal(fixture);
    expectFieldByField(ours, sdk, ['content']);
    const sdkContent = sdk.content as Json[];
    expect(ours.content.length).toBe(sdkContent.length);
    for (const [index, block] of sdkContent.entries()) {
      expectFieldByField(ours.content[index] ?? {}, block);
    }
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

  it('16: the whole message, the tool input cut by max_tokens parsed as far as it came', async () => {
    const fixture = withExpected[1];
    const message = await fold(fixture?.sse ?? '');
    expect(message.stop_reason).toBe('max_tokens');
    expect(withoutNulls(message)).toEqual(fixture?.expected);
  });
});

describe('every answer', () => {
  it.each(fixtures)('$name: the key order of message_start, honest counters', async (fixture) => {
    const answer = await foldSse(messagesApi, bodyOf(fixture.sse));
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

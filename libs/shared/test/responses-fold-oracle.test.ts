import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { isProxyError } from '../src/fold/errors.js';
import { responsesApi } from '../src/index.js';
import type { ResponseObject } from '../src/responses/index.js';
import { foldSse } from './fold-through-sink.js';
import {
  bodyOf,
  eventsOf,
  type JsonEvent,
  loadSseFixtures,
  rejectionOf,
  replayFetch,
  type SseFixture,
  withoutEvents,
} from './sse-fixtures.js';

/**
 * The Responses fold against its oracles, on the 25 recorded streams:
 * 1. the official openai SDK, `client.responses.stream(...).finalResponse()`, fed each recording
 *    through its `fetch`, compared field by field;
 * 2. the same with the final event taken out of the recording, where the fold rebuilds the answer
 *    from the items and the SDK builds its snapshot from the deltas and done items;
 * 3. each fixture's `.expected.json` (the final event's `response`, as recorded).
 */

const fixtures = loadSseFixtures('responses-streams');
const FAILED = '16';
const answerFixtures = fixtures.filter((f) => f.prefix !== FAILED);
const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

type Json = Record<string, unknown>;

async function fold(sse: string): Promise<{ response: ResponseObject; mismatches: string[] | undefined }> {
  const answer = await foldSse(responsesApi, bodyOf(sse));
  return { response: JSON.parse(answer.body) as ResponseObject, mismatches: answer.mismatches };
}

function sdkFinal(sse: string): Promise<unknown> {
  const client = new OpenAI({ apiKey: 'test', baseURL: 'http://127.0.0.1:9/v1', fetch: replayFetch(sse) });
  return client.responses.stream({ model: 'test', input: 'test' }).finalResponse();
}

/**
 * The SDK's final response as the API sends it: without `output_text` (a convenience the SDK adds
 * unless the server sent one, as OpenRouter does), `output_parsed`, and the `parsed` /
 * `parsed_arguments` the SDK puts on message parts and function calls.
 */
function asApiResponse(sdk: unknown, upstreamSentOutputText: boolean): Json {
  const { output_text, output_parsed: _parsed, ...rest } = JSON.parse(JSON.stringify(sdk)) as Json;
  const output = (rest.output as Json[]).map((item) => {
    const { parsed_arguments: _arguments, ...kept } = item;
    if (Array.isArray(kept.content)) {
      kept.content = (kept.content as Json[]).map(({ parsed: _part, ...part }) => part);
    }
    return kept;
  });
  return upstreamSentOutputText ? { ...rest, output_text, output } : { ...rest, output };
}

/** Whether the server itself put `output_text` into its response objects (OpenRouter does). */
const sendsOutputText = (sse: string): boolean => /"output_text"\s*:/.test(sse);

/** A fixture's expected response as JSON values: `-0.0` in a logprob is 0 once serialised. */
const expectedOf = (fixture: SseFixture): Json => JSON.parse(JSON.stringify(fixture.expected)) as Json;

function expectFieldByField(ours: Json, oracle: Json, skip: string[] = []): void {
  const keys = new Set([...Object.keys(ours), ...Object.keys(oracle)]);
  for (const key of keys) {
    if (skip.includes(key)) continue;
    expect(ours[key], key).toEqual(oracle[key]);
  }
}

/** The recording without its final event: the stream a server that never sends one would send. */
const withoutFinalEvent = (fixture: SseFixture): string =>
  withoutEvents(fixture.sse, (event: JsonEvent) => FINAL_EVENTS.has(String(event.type)));

/**
 * Fixtures the SDK cannot fold: its accumulator insists on `response.created` first, and a resumed
 * background stream starts with `response.queued`. Their expectation is written by hand: the
 * `.expected.json` below, and the rebuilt output in the second block.
 */
const SDK_CANNOT: Record<string, string> = {
  '15': 'starts with response.queued: the SDK throws "expected \'response.created\' event"',
};
const sdkFixtures = answerFixtures.filter((f) => SDK_CANNOT[f.prefix] === undefined);
const byHandFixtures = answerFixtures.filter((f) => SDK_CANNOT[f.prefix] !== undefined);

describe('fold vs the openai SDK (responses.stream().finalResponse())', () => {
  it('covers every fixture but the failed one and those the SDK cannot fold', () => {
    expect(sdkFixtures.length).toBe(23);
  });

  it.each(sdkFixtures)('$name', async (fixture) => {
    const { response: ours } = await fold(fixture.sse);
    const sdk = asApiResponse(await sdkFinal(fixture.sse), sendsOutputText(fixture.sse));
    expectFieldByField(ours, sdk, ['output']);
    expect(ours.output.length).toBe((sdk.output as Json[]).length);
    for (const [index, item] of (sdk.output as Json[]).entries()) {
      expectFieldByField(ours.output[index] ?? {}, item);
    }
  });

  it(`${FAILED}: both refuse the failed stream, with the upstream's message`, async () => {
    const fixture = fixtures.find((f) => f.prefix === FAILED);
    if (fixture === undefined) throw new Error('fixture 16 is missing');
    const sdkError = await rejectionOf(sdkFinal(fixture.sse));
    const ours = await rejectionOf(foldSse(responsesApi, bodyOf(fixture.sse)));
    expect(sdkError).toBeInstanceOf(OpenAI.APIError);
    expect(isProxyError(ours)).toBe(true);
    if (!(sdkError instanceof Error) || !isProxyError(ours)) return;
    expect(sdkError.message).toContain('You exceeded your current quota');
    expect(ours.message).toContain('You exceeded your current quota');
  });
});

describe('without the final event: fold rebuilds from the items, vs the SDK snapshot', () => {
  it.each(sdkFixtures)('$name', async (fixture) => {
    const sse = withoutFinalEvent(fixture);
    const { response: ours, mismatches } = await fold(sse);
    // The SDK's snapshot keeps the last lifecycle status (in_progress); ours says the answer is
    // complete, since every item finished (responses-fold.ts).
    const sdk = asApiResponse(await sdkFinal(sse), sendsOutputText(sse));
    expect(ours.status).toBe('completed');
    expect(['in_progress', 'queued']).toContain(sdk.status);
    // A response always has `usage`; xAI and OpenRouter leave it out of their lifecycle events.
    expect(ours.usage).toBeNull();
    expect(sdk.usage ?? null).toBeNull();
    expectFieldByField(ours, sdk, ['status', 'output', 'usage']);
    expect(ours.output).toEqual(sdk.output);
    expect(mismatches).toEqual([]);
  });

  it.each(byHandFixtures)('$name (by hand: the SDK cannot)', async (fixture) => {
    await expect(sdkFinal(fixture.sse)).rejects.toThrow("expected 'response.created'");
    await expect(sdkFinal(withoutFinalEvent(fixture))).rejects.toThrow("expected 'response.created'");
    const expected = expectedOf(fixture);
    const { response: ours } = await fold(withoutFinalEvent(fixture));
    expect(ours.output).toEqual(expected.output);
    for (const key of ['id', 'object', 'created_at', 'model', 'background']) {
      expect(ours[key], key).toEqual(expected[key]);
    }
    expect(ours.status).toBe('completed');
    expect(ours.usage).toBeNull();
  });
});

/**
 * Where the items as `output_item.done` sent them differ from the final event's output, by design
 * of the upstream (see the fixtures README): OpenAI re-encrypts a reasoning item's
 * `encrypted_content` each time it sends it, and OpenRouter re-issues the reasoning item's id.
 */
const REISSUED_FIELDS: Record<string, string[]> = {
  '05': ['encrypted_content'],
  '06': ['encrypted_content'],
  '07': ['encrypted_content'],
  '19': ['encrypted_content'],
  '21': ['id'],
};

describe("fold vs the fixture's expected.json (the final event's response)", () => {
  it('every fixture has one', () => {
    expect(fixtures.length).toBe(25);
    expect(fixtures.every((f) => f.expected !== null)).toBe(true);
  });

  it.each(answerFixtures)('$name: the answer is the final response, no mismatch', async (fixture) => {
    const { response, mismatches } = await fold(fixture.sse);
    expect(response).toEqual(expectedOf(fixture));
    expect(mismatches).toEqual([]);
  });

  it.each(answerFixtures)('$name: rebuilt without the final event, the same output', async (fixture) => {
    const { response } = await fold(withoutFinalEvent(fixture));
    const expected = expectedOf(fixture).output as Json[];
    const reissued = REISSUED_FIELDS[fixture.prefix] ?? [];
    expect(response.output.length).toBe(expected.length);
    for (const [index, item] of expected.entries()) {
      expectFieldByField(response.output[index] ?? {}, item, reissued);
      for (const field of reissued)
        if (field in item) expect(response.output[index]?.[field]).toBeTypeOf('string');
    }
    expect(response.usage).toBeNull();
  });
});

/**
 * With every `.done` event taken out but the final one, the cross-check compares the final output
 * with what the deltas alone built: so this checks the deltas, where the other tests would pass on
 * the done items. LM Studio (24) sends a call's arguments only in `function_call_arguments.done`.
 */
const ONLY_IN_DONE: Record<string, string[]> = {
  '24': ['output[2].arguments differs from the stream'],
};

describe('the deltas alone build what the final event says', () => {
  it.each(answerFixtures)('$name', async (fixture) => {
    const deltasOnly = withoutEvents(fixture.sse, (event) => String(event.type).endsWith('.done'));
    const { response, mismatches } = await fold(deltasOnly);
    expect(response).toEqual(expectedOf(fixture));
    expect(mismatches).toEqual(ONLY_IN_DONE[fixture.prefix] ?? []);
  });
});

describe('every answer', () => {
  it.each(answerFixtures)('$name: no stream-only fields, honest counters', async (fixture) => {
    const answer = await foldSse(responsesApi, bodyOf(fixture.sse));
    const response = JSON.parse(answer.body) as ResponseObject;
    expect(answer.body).not.toContain('obfuscation');
    expect(answer.body).not.toContain('sequence_number');
    expect(answer.chunks).toBe(eventsOf(fixture.sse).length);
    expect(answer.model).toBe(response.model);
    const usage = fixture.expected?.usage as Json;
    expect(answer.usage).toEqual({
      prompt_tokens: usage.input_tokens,
      completion_tokens: usage.output_tokens,
    });
  });
});

import { partialParse } from '@anthropic-ai/sdk/_vendor/partial-json-parser/parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePartialJson } from '../src/messages/partial-json.js';
import { eventsOf, loadSseFixtures } from './sse-fixtures.js';

// A tool input cut by max_tokens is read the way Anthropic's SDKs read it. Their parser is the
// oracle: it is vendored inside the SDK (a dev dependency here), not exported for runtime use.

const fixtures = loadSseFixtures('messages-streams');

/** Every tool input the recorded streams send as `input_json_delta` fragments, joined. */
function recordedToolInputs(): { name: string; json: string }[] {
  const inputs: { name: string; json: string }[] = [];
  for (const fixture of fixtures) {
    const byBlock = new Map<number, string>();
    for (const event of eventsOf(fixture.sse)) {
      const delta = event.delta as { type?: string; partial_json?: string } | undefined;
      if (event.type !== 'content_block_delta' || delta?.type !== 'input_json_delta') continue;
      const index = Number(event.index);
      byBlock.set(index, (byBlock.get(index) ?? '') + (delta.partial_json ?? ''));
    }
    for (const [index, json] of byBlock) inputs.push({ name: `${fixture.name} block ${index}`, json });
  }
  return inputs;
}

/** The parse's value, or that it threw: the two parsers must agree on both. */
function outcome(parse: (text: string) => unknown, text: string): string {
  try {
    return JSON.stringify(parse(text));
  } catch {
    return 'throws';
  }
}

function expectSameAsSdkOnEveryPrefix(json: string): void {
  for (let end = 0; end <= json.length; end += 1) {
    const prefix = json.slice(0, end);
    expect(outcome(parsePartialJson, prefix), JSON.stringify(prefix)).toBe(outcome(partialParse, prefix));
  }
}

describe('parsePartialJson', () => {
  it("reads fixture 16's cut tool input as the SDK's own expectation (expected.json)", () => {
    const fixture = fixtures.find((candidate) => candidate.prefix === '16');
    const tool = (fixture?.expected?.content as { input?: unknown }[] | undefined)?.[1];
    const json = recordedToolInputs().find((input) => input.name.startsWith('16-'))?.json ?? '';
    expect(() => JSON.parse(json)).toThrow();
    expect(parsePartialJson(json)).toEqual(tool?.input);
    expect(tool?.input).toMatchObject({ filename: 'taxes.txt' });
  });

  it.each([
    ['a string value cut', '{"a": "b', {}],
    ['a key without its value', '{"a": 1, "b":', { a: 1 }],
    ['a number that may go on', '{"n": [1, 23', { n: [1] }],
    ['a number closed by a space', '{"n": 12 ', { n: 12 }],
    ['a literal cut', '{"ok": tru', {}],
    ['a whole literal', '{"ok": true', { ok: true }],
    ['an escaped quote inside a string', '{"q": "say \\"hi\\"", "r": "x', { q: 'say "hi"' }],
    ['nested and open', '{"a": {"b": [{"c": null}, {"d"', { a: { b: [{ c: null }, {}] } }],
  ])('keeps what was complete: %s', (_label, text, value) => {
    expect(parsePartialJson(text)).toEqual(value);
    expect(partialParse(text)).toEqual(value);
  });

  it.each([
    ['an unknown word', '{"a": nope'],
    ['a closer that does not match', '{"a": [1}'],
    ['a stray character', '{"a": @'],
    ['nothing', ''],
  ])('throws on text that is no prefix of JSON: %s', (_label, text) => {
    expect(() => parsePartialJson(text)).toThrow(SyntaxError);
  });

  it.each(recordedToolInputs())('agrees with the SDK on every prefix of $name', ({ json }) => {
    expectSameAsSdkOnEveryPrefix(json);
  });

  it('agrees with the SDK on every prefix of generated JSON, compact and indented', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.boolean(), (value, indented) => {
        expectSameAsSdkOnEveryPrefix(JSON.stringify(value, null, indented ? 2 : undefined));
      }),
      { numRuns: 300 },
    );
  });
});

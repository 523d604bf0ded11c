import { readdirSync, readFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { FoldedAnswer, StreamFolder } from '../src/fold/stream-folder.js';
import { FoldingSink } from '../src/upstream/body-sinks.js';
import { foldThroughSink } from './fold-through-sink.js';

// How FoldingSink cuts the bytes undici writes into it into SSE events: each event's data, as a
// fold is handed it, whatever the pieces the bytes come in.

interface Fixture {
  name: string;
  sse: string;
}

const FIXTURE_DIR = new URL('./fixtures/streams/', import.meta.url);
const fixtures: Fixture[] = readdirSync(FIXTURE_DIR)
  .filter((name) => /^\d{2}-.*\.json$/.test(name))
  .sort()
  .map((name) => ({
    name,
    sse: (JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), 'utf8')) as Fixture).sse,
  }));

const encoder = new TextEncoder();

/** A folder that keeps the data of every event it is handed, and never ends the answer. */
class DataList implements StreamFolder<FoldedAnswer & { data: string[] }> {
  readonly data: string[] = [];

  take(data: string): boolean {
    this.data.push(data);
    return false;
  }

  finish(): FoldedAnswer & { data: string[] } {
    return { body: '', chunks: this.data.length, model: null, usage: null, data: this.data };
  }
}

/** The data the sink hands a fold when `parts` are written into it in turn, then ended. */
async function collect(parts: Uint8Array[]): Promise<string[]> {
  return (await foldThroughSink(new DataList(), parts)).data;
}

/** Cuts `bytes` into pieces whose sizes cycle through `sizes`. */
function sliceBy(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i += 1) {
    const size = sizes[i % sizes.length] ?? 1;
    parts.push(bytes.subarray(at, at + size));
    at += size;
  }
  return parts;
}

/** mulberry32: a tiny seeded PRNG, so a failing slicing can be replayed. */
function randomSizes(seed: number, count: number, max: number): number[] {
  let state = seed >>> 0;
  const sizes: number[] = [];
  for (let i = 0; i < count; i += 1) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    sizes.push((((t ^ (t >>> 14)) >>> 0) % max) + 1);
  }
  return sizes;
}

/**
 * An independent, deliberately naive reading of the SSE spec (whole text, split into lines), the
 * reference the streaming reader must agree with. Like the reader, it keeps a last event that the
 * stream did not close with a blank line.
 */
function referenceData(sse: string): string[] {
  const out: string[] = [];
  let data: string[] | null = null;
  for (const line of sse.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data !== null) out.push(data.join('\n'));
      data = null;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      data ??= [];
      data.push(value);
    }
  }
  if (data !== null) out.push(data.join('\n'));
  return out;
}

describe('SSE events through FoldingSink, on the recorded streams', () => {
  it.each(fixtures)('$name: every slicing yields the reference data list', async ({ sse }) => {
    const bytes = encoder.encode(sse);
    const expected = referenceData(sse);
    expect(expected.length).toBeGreaterThan(0);

    expect(await collect([bytes])).toEqual(expected);
    expect(await collect(sliceBy(bytes, [1]))).toEqual(expected);
    expect(await collect(sliceBy(bytes, [7]))).toEqual(expected);
    for (const seed of [1, 42, 2024]) {
      expect(await collect(sliceBy(bytes, randomSizes(seed, 64, 300)))).toEqual(expected);
    }
  });

  it.each(fixtures)(
    '$name: no data is a comment, and whole streams end with [DONE]',
    async ({ name, sse }) => {
      const data = await collect([encoder.encode(sse)]);
      for (const item of data) expect(item.startsWith(':')).toBe(false);
      // 93 ends with an error event and 98 is a prefix: the two recordings without [DONE].
      const endsWithDone = !name.startsWith('93-') && !name.startsWith('98-');
      expect(data.at(-1) === '[DONE]').toBe(endsWithDone);
      expect(data.filter((item) => item === '[DONE]').length).toBe(endsWithDone ? 1 : 0);
    },
  );

  it("skips OpenRouter's ': OPENROUTER PROCESSING' comments and keeps a character cut at every byte", async () => {
    const fixture = fixtures.find((f) => f.name.startsWith('98-'));
    if (fixture === undefined) throw new Error('fixture 98 missing');
    const bytes = encoder.encode(fixture.sse);
    const expected = await collect([bytes]);
    expect(expected).toHaveLength(2);
    expect(expected[1]).toContain('"content":"亚"');
    // Two pieces, cut at every byte offset: two of the cuts fall inside '亚' (3 bytes of UTF-8).
    for (let cut = 1; cut < bytes.length; cut += 1) {
      expect(await collect([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(expected);
    }
  });

  it("skips mlx-lm's keep-alive comments before the first chunk", async () => {
    const fixture = fixtures.find((f) => f.name.startsWith('94-'));
    if (fixture === undefined) throw new Error('fixture 94 missing');
    const data = await collect([encoder.encode(fixture.sse)]);
    expect(fixture.sse.startsWith(': keepalive 56/58\n\n')).toBe(true);
    expect(data[0]?.startsWith('{"id": "chatcmpl-c3100896')).toBe(true);
  });
});

describe('SSE events through FoldingSink, on hand-made streams', () => {
  it('splits a multi-byte character across reads (2-, 3- and 4-byte UTF-8)', async () => {
    const text = 'data: {"content":"é亚😀"}\n\n';
    const bytes = encoder.encode(text);
    for (let cut = 1; cut < bytes.length; cut += 1) {
      expect(await collect([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(['{"content":"é亚😀"}']);
    }
    expect(await collect(sliceBy(bytes, [1]))).toEqual(['{"content":"é亚😀"}']);
  });

  it('reads CRLF and lone CR line ends, also when a CRLF pair is split between reads', async () => {
    const lf = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';
    const expected = ['{"a":1}', '{"b":2}', '[DONE]'];
    for (const sse of [lf.replaceAll('\n', '\r\n'), lf.replaceAll('\n', '\r')]) {
      const bytes = encoder.encode(sse);
      expect(await collect([bytes])).toEqual(expected);
      expect(await collect(sliceBy(bytes, [1]))).toEqual(expected);
      expect(await collect(sliceBy(bytes, [3, 5]))).toEqual(expected);
    }
  });

  it('ignores comments, event:, id: and retry: lines, and joins multi-line data with \\n', async () => {
    const sse = [
      ': ping',
      '',
      'event: message',
      'id: 7',
      'retry: 1000',
      'data: {"a":',
      'data:1}',
      '',
      ':',
      'data: second',
      '',
      '',
    ].join('\n');
    expect(await collect([encoder.encode(sse)])).toEqual(['{"a":\n1}', 'second']);
    expect(await collect(sliceBy(encoder.encode(sse), [1]))).toEqual(['{"a":\n1}', 'second']);
  });

  it('yields a 1 MB event whole, however it is sliced', async () => {
    const content = 'x亚'.repeat(350_000); // about 1.4 MB of UTF-8
    const data = JSON.stringify({ choices: [{ index: 0, delta: { content } }] });
    const bytes = encoder.encode(`data: ${data}\n\ndata: [DONE]\n\n`);
    expect(bytes.length).toBeGreaterThan(1_000_000);
    expect(await collect([bytes])).toEqual([data, '[DONE]']);
    expect(await collect(sliceBy(bytes, [65_536]))).toEqual([data, '[DONE]']);
    expect(await collect(sliceBy(bytes, randomSizes(7, 500, 20_000)))).toEqual([data, '[DONE]']);
  });

  it('delivers a last event the stream did not close with a blank line', async () => {
    expect(await collect([encoder.encode('data: {"a":1}\n\ndata: {"b":2}')])).toEqual(['{"a":1}', '{"b":2}']);
    expect(await collect([encoder.encode('data: {"a":1}\n\ndata: {"b":2}\n')])).toEqual([
      '{"a":1}',
      '{"b":2}',
    ]);
    expect(await collect([encoder.encode('data: {"a":1}\r\n\r\ndata: {"b":2}\r')])).toEqual([
      '{"a":1}',
      '{"b":2}',
    ]);
    expect(await collect(sliceBy(encoder.encode('data: {"b":2}'), [1]))).toEqual(['{"b":2}']);
  });

  it('yields nothing for an empty body or a body of comments only', async () => {
    expect(await collect([])).toEqual([]);
    expect(await collect([encoder.encode(': OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n')])).toEqual(
      [],
    );
  });

  it('drops a leading byte order mark', async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode('data: {"a":1}\n\n')]);
    expect(await collect([bytes])).toEqual(['{"a":1}']);
  });

  it('hands each event on as it arrives, before the body ends', async () => {
    const list = new DataList();
    const sink = new FoldingSink(list);
    sink.write(encoder.encode('data: first\n\n'));
    expect(list.data).toEqual(['first']);
    sink.write(encoder.encode('data: second\n\n'));
    expect(list.data).toEqual(['first', 'second']);
    sink.end();
    await finished(sink);
    expect(list.data).toEqual(['first', 'second']);
  });
});

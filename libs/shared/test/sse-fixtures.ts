/** Reading recorded SSE fixtures for the Responses and Messages fold tests, and replaying them. */
import { readdirSync, readFileSync } from 'node:fs';

export interface SseFixture {
  /** File name without `.sse`, e.g. `03-function-call`. */
  name: string;
  /** The two-digit number the fixture READMEs use. */
  prefix: string;
  sse: string;
  /** The fixture's `.expected.json`, when it has one. */
  expected: Record<string, unknown> | null;
}

export type JsonEvent = Record<string, unknown>;

export function loadSseFixtures(directory: string): SseFixture[] {
  const base = new URL(`./fixtures/${directory}/`, import.meta.url);
  const names = readdirSync(base).filter((file) => file.endsWith('.sse'));
  return names.sort().map((file) => {
    const name = file.slice(0, -'.sse'.length);
    const expectedFile = new URL(`${name}.expected.json`, base);
    const hasExpected = readdirSync(base).includes(`${name}.expected.json`);
    return {
      name,
      prefix: name.slice(0, 2),
      sse: readFileSync(new URL(file, base), 'utf8'),
      expected: hasExpected
        ? (JSON.parse(readFileSync(expectedFile, 'utf8')) as Record<string, unknown>)
        : null,
    };
  });
}

/** A body arriving in these pieces, one write each (see fold-through-sink.ts). */
export function bodyOf(...parts: string[]): string[] {
  return parts;
}

/** SSE text of events given as objects (or raw data strings), framed as OpenAI and Anthropic do. */
export function sseOf(...events: (JsonEvent | string)[]): string {
  return events
    .map((event) => {
      if (typeof event === 'string') return `data: ${event}\n\n`;
      return `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`;
    })
    .join('');
}

/** The event blocks of an SSE text, split naively on blank lines (independent of the fold's reader). */
export function sseBlocks(sse: string): string[] {
  return sse.split(/\r?\n\r?\n/).filter((block) => block.trim() !== '');
}

/** The JSON data of one block, or null for a comment-only block or `[DONE]`. */
export function blockData(block: string): JsonEvent | null {
  const data = block
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, ''))
    .join('\n');
  if (data === '' || data === '[DONE]') return null;
  return JSON.parse(data) as JsonEvent;
}

/** Every event of an SSE text, in order. */
export function eventsOf(sse: string): JsonEvent[] {
  return sseBlocks(sse)
    .map(blockData)
    .filter((event): event is JsonEvent => event !== null);
}

/** The SSE text without the events `drop` picks, everything else (comments, `[DONE]`) unchanged. */
export function withoutEvents(sse: string, drop: (event: JsonEvent) => boolean): string {
  return sseBlocks(sse)
    .filter((block) => {
      const event = blockData(block);
      return event === null || !drop(event);
    })
    .map((block) => `${block}\n\n`)
    .join('');
}

/**
 * A `fetch` for an SDK client that answers every request with `sse` as an event stream. A blank line
 * is added at the end: two recorded Anthropic fixtures end right after their last `data:` line, and
 * the SDKs' SSE decoders (as the SSE spec says) drop an event that is never closed.
 */
export function replayFetch(sse: string): typeof fetch {
  return async () =>
    new Response(`${sse}\n\n`, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

/** Runs `promise` and returns what it threw (or fails the test if it did not throw). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

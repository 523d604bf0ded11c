import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StreamFolder } from '../src/fold/stream-folder.js';
import {
  chatCompletionsApi,
  type FoldedAnswer,
  isProxyError,
  messagesApi,
  responsesApi,
} from '../src/index.js';
import { FoldingSink } from '../src/upstream/body-sinks.js';
import { foldThroughSink } from './fold-through-sink.js';
import { loadSseFixtures } from './sse-fixtures.js';

/**
 * The sink undici writes a fold's body into must fold a stream the same whatever the piece
 * boundaries (a UTF-8 character or a line end may be split across writes): the same answer or the
 * same error in pieces of any size as in one piece.
 */

const encoder = new TextEncoder();

type Outcome = { body: string; chunks: number } | { error: string };

/** The fold makes up an id when a stream has none; two folds of one stream differ only there. */
const sameIds = (body: string) => body.replace(/"chatcmpl-[0-9a-f]{32}"/, '"chatcmpl-generated"');

function* piecesOf(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function pushed(folder: StreamFolder, bytes: Uint8Array, size: number): Promise<Outcome> {
  try {
    const answer = await foldThroughSink(folder, piecesOf(bytes, size));
    return { body: sameIds(answer.body), chunks: answer.chunks };
  } catch (error) {
    return { error: isProxyError(error) ? error.code : String(error) };
  }
}

const chatDir = new URL('./fixtures/streams/', import.meta.url);
const chatStreams = readdirSync(chatDir)
  .filter((name) => /^\d{2}-.*\.json$/.test(name))
  .sort()
  .map((name) => {
    const fixture = JSON.parse(readFileSync(new URL(name, chatDir), 'utf8')) as { sse: string };
    return { name, sse: fixture.sse, api: chatCompletionsApi };
  });
const streams = [
  ...chatStreams,
  ...loadSseFixtures('responses-streams').map(({ name, sse }) => ({ name, sse, api: responsesApi })),
  ...loadSseFixtures('messages-streams').map(({ name, sse }) => ({ name, sse, api: messagesApi })),
];

describe('FoldingSink on the recorded streams', () => {
  it.each(streams)('$name folds in pieces of every size as in one piece', async ({ sse, api }) => {
    const bytes = encoder.encode(sse);
    const expected = await pushed(api.folder(), bytes, bytes.length);
    for (const size of [1, 7, 64, 1000]) {
      expect(await pushed(api.folder(), bytes, size), `pieces of ${size} bytes`).toEqual(expected);
    }
  });
});

describe('FoldingSink on hand-made streams', () => {
  const chunk = (content: string, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

  it('fails with upstream_malformed_chunk on an event that is not JSON', async () => {
    const bytes = encoder.encode(`${chunk('a')}data: {not json\n\n${chunk('b', 'stop')}`);
    expect(await pushed(chatCompletionsApi.folder(), bytes, 5)).toEqual({
      error: 'upstream_malformed_chunk',
    });
  });

  it('ignores what follows [DONE]', async () => {
    const bytes = encoder.encode(`${chunk('a', 'stop')}data: [DONE]\n\ndata: {not json\n\n`);
    const outcome = await pushed(chatCompletionsApi.folder(), bytes, 3);
    expect(outcome).toMatchObject({ chunks: 1 });
  });

  it('is truncated when the body ends before the answer is complete', async () => {
    const bytes = encoder.encode(chunk('a'));
    expect(await pushed(chatCompletionsApi.folder(), bytes, 10)).toEqual({
      error: 'upstream_stream_truncated',
    });
  });

  it('cuts off a body left open after the last event, keeping the answer', async () => {
    const sink = new FoldingSink<FoldedAnswer>(chatCompletionsApi.folder());
    sink.write(Buffer.from(`${chunk('hello', 'stop')}data: [DONE]\n\n`));
    const started = Date.now();
    await once(sink, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(sink.complete).toBe(true);
    expect(JSON.parse(sink.answer().body).choices[0].message.content).toBe('hello');
  });
});

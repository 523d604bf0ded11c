import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { modelRenamingWriter } from '../src/relay/model-renaming-writer.js';
import { type Listening, listen } from './listening.js';

let server: Listening | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Serves one response through a renaming writer, handed to the test as soon as the request comes. */
async function renamingServer(model: string): Promise<{ url: string; writer: Promise<Writable> }> {
  let handOver: (writer: Writable) => void = () => undefined;
  const writer = new Promise<Writable>((resolve) => {
    handOver = resolve;
  });
  server = await listen((_req, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    handOver(modelRenamingWriter(res, model));
  });
  return { url: server.url, writer };
}

describe('modelRenamingWriter', () => {
  it('renames every model member, whatever the chunks cut: lines, members, characters', async () => {
    const { url, writer } = await renamingServer('gpt-asked');
    const response = await fetch(url);
    const text =
      'data: {"id":"1","model": "alias-x","choices":[{"delta":{"content":"h\u00e9"}}]}\n\n' +
      'data: {"id":"2","model":"alias-x","choices":[]}\n\n' +
      '{"object":"tail","model":"alias-x"}';
    const bytes = Buffer.from(text);
    // Cuts inside the model's value, inside the two bytes of "é", and a last line with no break.
    const cuts = [20, bytes.indexOf(Buffer.from('\u00e9')) + 1, 90, bytes.length];
    const chunks: Buffer[] = [];
    let from = 0;
    for (const cut of cuts) {
      chunks.push(bytes.subarray(from, cut));
      from = cut;
    }
    await pipeline(Readable.from(chunks), await writer);
    expect(await response.text()).toBe(
      'data: {"id":"1","model":"gpt-asked","choices":[{"delta":{"content":"h\u00e9"}}]}\n\n' +
        'data: {"id":"2","model":"gpt-asked","choices":[]}\n\n' +
        '{"object":"tail","model":"gpt-asked"}',
    );
  });

  it('delivers a body larger than the socket buffers whole, waiting for the client to drain', async () => {
    const { url, writer } = await renamingServer('m');
    const line = `data: {"model":"alias","pad":"${'x'.repeat(1_000)}"}\n\n`;
    const lines = 4_000;
    const response = await fetch(url);
    const writing = pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < lines; i += 1) yield Buffer.from(line);
        })(),
      ),
      await writer,
    );
    const text = await response.text();
    await writing;
    expect(text).toBe(line.replace('"model":"alias"', '"model":"m"').repeat(lines));
  });

  it('stops with an error when the client leaves', async () => {
    const { url, writer } = await renamingServer('m');
    const leave = new AbortController();
    const response = await fetch(url, { signal: leave.signal });
    const sink = await writer;
    const failed = once(sink, 'error');
    sink.write('data: {"model":"alias"}\n\n');
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toBe('data: {"model":"m"}\n\n');
    leave.abort();
    const [error] = (await failed) as [Error];
    expect(error.message).toBe('the client closed the connection');
    expect(sink.destroyed).toBe(true);
  });

  it('cuts the response when its source fails, so the client never takes it for a whole one', async () => {
    const { url, writer } = await renamingServer('m');
    const response = await fetch(url);
    const sink = await writer;
    sink.on('error', () => undefined);
    sink.write('data: {"model":"alias"}\n\n');
    sink.destroy(new Error('the upstream broke off'));
    await expect(response.text()).rejects.toThrow();
  });
});

import { createParser } from 'eventsource-parser';

/**
 * Yields the `data` of every server-sent event in `body`, in order.
 *
 * Line splitting, CRLF, comments (`: ping`, `: OPENROUTER PROCESSING`), `event:`/`id:` lines and
 * multi-line data are eventsource-parser's job; we only decode bytes (a streaming TextDecoder, so a
 * UTF-8 character split across reads survives) and hand whole strings to it, never single bytes.
 *
 * A stream may end without the blank line that closes its last event (a provider that stops after
 * `data: {...}`, or after `data: {...}\n`). The spec says to drop such an event; we deliver it, so
 * that a final chunk or an error object is not lost. eventsource-parser 3's `reset({consume: true})`
 * is no help here: it parses the unterminated line but then clears the event without dispatching
 * it. Feeding two line ends does dispatch it, and is a no-op when the last event was complete.
 *
 * Errors thrown by `body` (socket reset, timeouts) propagate unchanged.
 */
export async function* readSseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  for await (const batch of readSseBatches(body)) yield* batch;
}

/**
 * The same events, a batch per read of `body`: what a fold consumes, since an async generator
 * pays a promise and a turn of the microtask queue per item it yields, and one read usually
 * holds many events (often a whole answer).
 */
export async function* readSseBatches(body: AsyncIterable<Uint8Array>): AsyncGenerator<string[]> {
  const pending: string[] = [];
  const parser = createParser({
    onEvent: (event) => {
      pending.push(event.data);
    },
    // Unknown fields and bad `retry:` values are ignored, as the SSE spec says.
    onError: () => {},
  });
  const decoder = new TextDecoder();

  for await (const bytes of body) {
    parser.feed(decoder.decode(bytes, { stream: true }));
    if (pending.length > 0) yield pending.splice(0);
  }
  // The decoder's last bytes (an incomplete character becomes U+FFFD), then close the last event.
  parser.feed(`${decoder.decode()}\n\n`);
  if (pending.length > 0) yield pending.splice(0);
}

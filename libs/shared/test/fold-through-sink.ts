/**
 * Folding SSE bytes the way production does: written into a `FoldingSink` of an API's folder,
 * piece by piece as undici's `stream()` writes a response body, then ended. The pieces are the
 * test's to choose, so an event, a line end or a UTF-8 character can be cut across writes.
 */
import { finished } from 'node:stream/promises';
import type { FoldedAnswer, StreamFolder } from '../src/fold/stream-folder.js';
import { FoldingSink } from '../src/upstream/body-sinks.js';

/** A body whole (text or bytes), or the pieces it arrives in, in order. */
export type SseBody = string | Uint8Array | Iterable<string | Uint8Array>;

/**
 * The sink's answer once the body has ended; rejects with what the sink failed with (a malformed
 * chunk, an error event) or what `answer()` throws (a truncated or empty stream).
 */
export async function foldThroughSink<A extends FoldedAnswer>(
  folder: StreamFolder<A>,
  body: SseBody,
): Promise<A> {
  const sink = new FoldingSink(folder);
  const done = finished(sink);
  for (const piece of piecesOf(body)) {
    // undici writes nothing more into a sink that failed: it aborts the response instead.
    if (sink.errored !== null) break;
    sink.write(piece);
  }
  sink.end();
  await done;
  return sink.answer();
}

/** `foldThroughSink` with the folder the API's descriptor makes, as `completeFromStream` does. */
export function foldSse<A extends FoldedAnswer>(
  api: { folder(): StreamFolder<A> },
  body: SseBody,
): Promise<A> {
  return foldThroughSink(api.folder(), body);
}

function piecesOf(body: SseBody): Iterable<string | Uint8Array> {
  // A string is iterable too, by character: whole, it is one piece.
  return typeof body === 'string' || body instanceof Uint8Array ? [body] : body;
}

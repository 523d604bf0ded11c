import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceParser } from 'eventsource-parser';

/**
 * Turns the bytes of a server-sent event stream into the `data` of each event, in order, as the
 * bytes come (undici's `stream()` writes them into `FoldingSink`, which writes them here).
 *
 * Line splitting, CRLF, comments (`: ping`, `: OPENROUTER PROCESSING`), `event:`/`id:` lines and
 * multi-line data are eventsource-parser's job; we only decode bytes and hand it whole strings,
 * never single bytes. Node's StringDecoder keeps a UTF-8 character split across reads whole and
 * measured about half the cost of a streaming TextDecoder on a 6 KB answer.
 *
 * A stream may end without the blank line that closes its last event (a provider that stops after
 * `data: {...}`, or after `data: {...}\n`). The spec says to drop such an event; `end()` delivers
 * it, so that a final chunk or an error object is not lost. eventsource-parser 3's
 * `reset({consume: true})` is no help here: it parses the unterminated line but then clears the
 * event without dispatching it. Feeding two line ends does dispatch it, and is a no-op when the
 * last event was complete.
 */
export class SseDataFeed {
  private readonly decoder = new StringDecoder('utf8');
  private readonly parser: EventSourceParser;
  private started = false;

  constructor(onData: (data: string) => void) {
    this.parser = createParser({
      onEvent: (event) => onData(event.data),
      // Unknown fields and bad `retry:` values are ignored, as the SSE spec says.
      onError: () => {},
    });
  }

  write(bytes: Uint8Array): void {
    const text = this.decoder.write(bytes);
    if (this.started) this.parser.feed(text);
    else if (text !== '') {
      // The stream may begin with a byte order mark, which the SSE spec says to drop.
      this.started = true;
      this.parser.feed(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    }
  }

  /** The decoder's last bytes (an incomplete character becomes U+FFFD), then the last event. */
  end(): void {
    this.parser.feed(`${this.decoder.end()}\n\n`);
  }
}

import { Writable } from 'node:stream';
import { SseDataFeed } from '../fold/sse-reader.js';
import { DRAIN_AFTER_DONE_MS, type FoldedAnswer, type StreamFolder } from '../fold/stream-folder.js';

/**
 * Where undici's `stream()` writes an upstream's SSE body for a fold: each write goes through the
 * SSE parser into the folder, synchronously, with no Readable, async iterator or promise per read
 * in between (measured about 20 µs cheaper per 35-event answer than reading `request()`'s body).
 *
 * A write the folder rejects (a malformed chunk, an error event) fails the sink with that
 * ProxyError, which makes undici abort the response. Once the folder says the answer is complete,
 * the rest of the body is read and ignored: the end almost always comes with the last event, and
 * stopping would abort the response for nothing. An upstream that keeps the response open longer
 * than `DRAIN_AFTER_DONE_MS` is cut off; the answer stands.
 */
export class FoldingSink<A extends FoldedAnswer> extends Writable {
  private readonly feed: SseDataFeed;
  private answerComplete = false;
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(private readonly folder: StreamFolder<A>) {
    super();
    this.feed = new SseDataFeed((data) => {
      if (!this.answerComplete && folder.take(data)) this.answerComplete = true;
    });
  }

  /** True once the folder said the answer is complete: an error after that changes nothing. */
  get complete(): boolean {
    return this.answerComplete;
  }

  /** The folded answer; throws the folder's ProxyError when the stream did not make a whole one. */
  answer(): A {
    return this.folder.finish();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.answerComplete) {
      callback();
      return;
    }
    try {
      this.feed.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (this.answerComplete) {
      this.drainTimer = setTimeout(() => this.destroy(), DRAIN_AFTER_DONE_MS);
      this.drainTimer.unref();
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    clearTimeout(this.drainTimer);
    try {
      if (!this.answerComplete) this.feed.end();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.drainTimer);
    callback(error);
  }
}

/** Where the body of a response that is not folded goes: an error to relay, or JSON after all. */
export class TextSink extends Writable {
  private readonly chunks: Buffer[] = [];

  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }
}

import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { renameModel } from '@openai-proxy/shared';

/**
 * The relay's sink for an upstream that was sent an alias: the bytes go on to the client line by
 * line, each with its `model` members naming the model the client asked for. Lines, because a
 * member never spans one (SSE events are one `data:` line; JSON answers keep a member on its
 * line), while a chunk boundary may cut anywhere, even inside a character. Only aliased
 * responses pay for this; the others are piped untouched.
 */
export function modelRenamingWriter(res: ServerResponse, model: string): Writable {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const writer = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = partial + decoder.write(chunk);
      const lastBreak = text.lastIndexOf('\n');
      if (lastBreak < 0) {
        partial = text;
        callback();
        return;
      }
      partial = text.slice(lastBreak + 1);
      if (res.write(renameModel(text.slice(0, lastBreak + 1), model))) callback();
      else res.once('drain', () => callback());
    },
    final(callback) {
      const rest = partial + decoder.end();
      res.end(rest === '' ? undefined : renameModel(rest, model), () => callback());
    },
    destroy(error, callback) {
      if (error !== null && !res.writableEnded) res.destroy();
      callback(error);
    },
  });
  // The client left: stop writing, as piping into the response itself would. Asked of the
  // response, not the writer: a response that ended whole closes a tick before the writer
  // counts as finished, and that is no client leaving.
  res.once('close', () => {
    if (!res.writableFinished) writer.destroy(new Error('the client closed the connection'));
  });
  return writer;
}

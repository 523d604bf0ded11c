import { randomBytes } from 'node:crypto';
import { createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { finished, type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileMissingError, type FileStorage, FileTooLargeError } from './file-storage.js';

/** A body on its way into a storage: the stream to read it from, and what it has counted so far. */
export interface CountedBody {
  readonly stream: Readable;
  /** The bytes that went through. */
  size(): number;
  /** Why it stopped early (too large, or the body failed), if it did. */
  failure(): Error | undefined;
}

/**
 * Passes `body` on while counting it, and fails with a FileTooLargeError past `maxBytes`. A body
 * stream that fails, or closes before its end, fails the counted one too. On failure the body is
 * let go of (unpiped) but not destroyed: an upload's body is a part of a request that its caller
 * still has to drain before it can answer.
 */
export function countedBody(body: Readable | Buffer, maxBytes: number): CountedBody {
  let bytes = 0;
  let failure: Error | undefined;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        failure ??= new FileTooLargeError(maxBytes);
        done(failure);
      } else done(null, chunk);
    },
  });
  if (Buffer.isBuffer(body)) counter.end(body);
  else {
    const stopWatching = finished(body, { writable: false }, (error) => {
      if (error === undefined || error === null || counter.destroyed) return;
      failure ??= error;
      counter.destroy(error);
    });
    counter.once('close', () => {
      body.unpipe(counter);
      stopWatching();
    });
    body.pipe(counter);
  }
  return { stream: counter, size: () => bytes, failure: () => failure };
}

/**
 * Files as plain files under one folder (FILES_DIR): for one machine, or several sharing a volume.
 * A file is written beside its place and renamed into it when complete, so a reader (on any
 * machine of the volume) sees either the whole file or none.
 */
export class DiskFileStorage implements FileStorage {
  readonly describe: string;
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.describe = `disk ${this.dir}`;
  }

  async write(key: string, body: Readable | Buffer, maxBytes: number): Promise<number> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    const counted = countedBody(body, maxBytes);
    try {
      // `flush`: the bytes reach the disk before the rename does, so a crash cannot leave an empty file in place.
      await pipeline(counted.stream, createWriteStream(temporary, { flags: 'wx', flush: true }));
      await rename(temporary, path);
    } catch (error) {
      // The pipeline has closed the temporary file by now (it settles once every stream has).
      await rm(temporary, { force: true });
      throw counted.failure() ?? error;
    }
    return counted.size();
  }

  /**
   * Opens the file before giving its stream, so that a missing one is a FileMissingError here
   * rather than an error in the middle of a response; and a file removed or replaced once open
   * is still read whole.
   */
  async read(key: string): Promise<ReadStream> {
    const path = this.pathOf(key);
    try {
      const handle = await open(path, 'r');
      return handle.createReadStream();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FileMissingError(key);
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  /** Keys are made by the proxy (`files/file-…`); one that could leave the folder is a bug, not a file. */
  private pathOf(key: string): string {
    if (key === '' || key.includes('..') || key.startsWith('/') || key.includes('\\'))
      throw new Error(
        `A file storage key must be a relative path inside the folder, not ${JSON.stringify(key)}.`,
      );
    return join(this.dir, key);
  }
}

import type { Readable } from 'node:stream';

/**
 * Where the bytes of uploaded and produced files live (`/v1/files`): a folder on disk
 * (`FILES_DIR`, one machine or a shared volume) or an S3-compatible bucket (`FILES_S3_*`, for
 * several machines). Their metadata is in Redis (file-store.ts); a storage knows only keys and bytes.
 */
export interface FileStorage {
  /** Where it keeps them, for logs: `disk /data/files`, `s3 my-bucket`. */
  readonly describe: string;
  /**
   * Stores `body` under `key` and resolves to its size. More than `maxBytes` rejects with a
   * FileTooLargeError, and nothing stays stored; so does a body that fails on the way.
   */
  write(key: string, body: Readable | Buffer, maxBytes: number): Promise<number>;
  /** The stored bytes; rejects with a FileMissingError when there are none. */
  read(key: string): Promise<Readable>;
  /** Removes them; a key with nothing stored is no error. */
  remove(key: string): Promise<void>;
}

export class FileTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`The file is larger than ${maxBytes} bytes.`);
    this.name = 'FileTooLargeError';
  }
}

export class FileMissingError extends Error {
  constructor(readonly key: string) {
    super(`No stored file has the key ${key}.`);
    this.name = 'FileMissingError';
  }
}

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import {
  FileMissingError,
  type FileStorage,
  FileTooLargeError,
  openFileStorage,
  storageKeyOf,
} from '@openai-proxy/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type TestS3Server } from './support/s3-server.js';

// The bytes of `/v1/files` on disk (FILES_DIR) and in an S3-compatible bucket (FILES_S3_*), both
// opened through openFileStorage as the apps do and held to the same contract; the bucket is a
// real S3 server (s3rver, from npm) speaking to the official AWS SDK.

const MB = 1024 * 1024;
const BUCKET = 'test-bucket';
const PREFIX = 'proxy/';
const NO_S3 = {
  FILES_S3_BUCKET: undefined,
  FILES_S3_ENDPOINT: undefined,
  FILES_S3_REGION: 'us-east-1',
  FILES_S3_PREFIX: '',
  FILES_S3_FORCE_PATH_STYLE: false,
};

const dirs: string[] = [];
let s3: TestS3Server | undefined;

async function temporaryDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `oaip-${name}-`));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await s3?.close();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A storage and the folder where its bytes end up (FILES_DIR, or s3rver's bucket folder). */
interface Opened {
  storage: FileStorage;
  root: string;
}

const storages: { name: string; describes: RegExp; open: () => Promise<Opened> }[] = [
  {
    name: 'disk',
    describes: /^disk \/.*oaip-disk-/,
    open: async () => {
      const root = await temporaryDir('disk');
      return { storage: await openFileStorage({ ...NO_S3, FILES_DIR: root }), root };
    },
  },
  {
    name: 's3',
    describes: new RegExp(`^s3 ${BUCKET}$`),
    open: async () => {
      const server = await startS3Server(BUCKET);
      s3 = server;
      process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
      process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
      const storage = await openFileStorage({
        // Set but unused: the bucket wins.
        FILES_DIR: join(server.directory, 'unused'),
        FILES_S3_BUCKET: BUCKET,
        FILES_S3_ENDPOINT: server.endpoint,
        FILES_S3_REGION: 'us-east-1',
        FILES_S3_PREFIX: PREFIX,
        FILES_S3_FORCE_PATH_STYLE: true,
      });
      // s3rver keeps a bucket's objects in a folder of its name, each at its key's path with
      // `._S3rver_object` added.
      return { storage, root: join(server.directory, BUCKET) };
    },
  },
];

const newKey = () => storageKeyOf(`file-${randomBytes(12).toString('hex')}`);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * `bytes` of random data in 64 KiB chunks, of no length known in advance (as an upload streamed
 * from a request), its sha256 once read to the end; `failAfter` makes it fail after that many bytes.
 */
function generated(bytes: number, failAfter?: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  async function* chunks() {
    for (let sent = 0; sent < bytes; ) {
      if (failAfter !== undefined && sent >= failAfter) throw new Error('the body broke off');
      const chunk = randomBytes(Math.min(64 * 1024, bytes - sent));
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks()), digest: () => hash.digest('hex') };
}

/** Every file under `root`, relative to it. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
}

describe.each(storages)('the file storage on $name', ({ name, describes, open }) => {
  let storage: FileStorage;
  let root: string;

  beforeAll(async () => {
    ({ storage, root } = await open());
  });

  it('is the one the settings chose, and says where it keeps the files', () => {
    expect(storage.describe).toMatch(describes);
  });

  it('reads back a written Buffer byte for byte', async () => {
    const key = newKey();
    const bytes = randomBytes(100_000);
    await expect(storage.write(key, bytes, 1 * MB)).resolves.toBe(bytes.length);
    expect((await buffer(await storage.read(key))).equals(bytes)).toBe(true);
    const stored = await filesUnder(root);
    const expected = name === 's3' ? `${PREFIX}${key}._S3rver_object` : key;
    expect(stored).toContain(expected);
  });

  it('keeps an empty file', async () => {
    const key = newKey();
    await expect(storage.write(key, Buffer.alloc(0), 1 * MB)).resolves.toBe(0);
    expect((await buffer(await storage.read(key))).length).toBe(0);
  });

  it('streams a 12 MB body of unknown length in and out (several parts in S3)', async () => {
    const key = newKey();
    const body = generated(12 * MB);
    await expect(storage.write(key, body.stream, 20 * MB)).resolves.toBe(12 * MB);
    const read = await buffer(await storage.read(key));
    expect(read.length).toBe(12 * MB);
    expect(sha256(read)).toBe(body.digest());
  });

  it('refuses a stream over maxBytes, keeps none of it, and leaves the rest of the body to drain', async () => {
    const key = newKey();
    // Past the first 5 MB part, so that S3 has a multipart upload going when the limit is hit.
    const body = generated(8 * MB);
    await expect(storage.write(key, body.stream, 6 * MB)).rejects.toBeInstanceOf(FileTooLargeError);
    await expect(storage.read(key)).rejects.toBeInstanceOf(FileMissingError);
    expect((await filesUnder(root)).filter((path) => path.includes(key))).toEqual([]);
    // An upload's caller still has to read the request to its end before it can answer 413.
    expect(body.stream.destroyed).toBe(false);
    body.stream.resume();
    await finished(body.stream);
  });

  it('refuses a Buffer over maxBytes, with the limit in the error', async () => {
    const key = newKey();
    const error = await storage.write(key, randomBytes(2048), 1024).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FileTooLargeError);
    expect((error as FileTooLargeError).maxBytes).toBe(1024);
    await expect(storage.read(key)).rejects.toBeInstanceOf(FileMissingError);
  });

  it('takes a body of exactly maxBytes', async () => {
    const key = newKey();
    await expect(storage.write(key, generated(300_000).stream, 300_000)).resolves.toBe(300_000);
  });

  it('rejects with the error of a body that fails on the way, and keeps none of it', async () => {
    const key = newKey();
    const body = generated(8 * MB, 6 * MB);
    await expect(storage.write(key, body.stream, 20 * MB)).rejects.toThrow('the body broke off');
    await expect(storage.read(key)).rejects.toBeInstanceOf(FileMissingError);
    expect((await filesUnder(root)).filter((path) => path.includes(key))).toEqual([]);
  });

  it('answers a key with nothing stored with a FileMissingError', async () => {
    const key = newKey();
    const error = await storage.read(key).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FileMissingError);
    expect((error as FileMissingError).key).toBe(key);
  });

  it('removes a file: reading it then is a FileMissingError', async () => {
    const key = newKey();
    await storage.write(key, Buffer.from('{"custom_id":"a"}\n'), 1 * MB);
    await storage.remove(key);
    await expect(storage.read(key)).rejects.toBeInstanceOf(FileMissingError);
  });

  it('removes a key with nothing stored without error', async () => {
    await expect(storage.remove(newKey())).resolves.toBeUndefined();
  });

  it('replaces the content of a key written again', async () => {
    const key = newKey();
    await storage.write(key, Buffer.from('first version, the longer one\n'), 1 * MB);
    await expect(storage.write(key, Readable.from([Buffer.from('second\n')]), 1 * MB)).resolves.toBe(7);
    expect((await buffer(await storage.read(key))).toString()).toBe('second\n');
  });

  it('leaves no temporary files behind', async () => {
    const leftovers = (await filesUnder(root)).filter((path) => path.includes('.tmp-'));
    expect(leftovers).toEqual([]);
  });

  // Only a folder has an outside to escape to: the case exists for the disk alone (not a skip).
  if (name === 'disk')
    it('refuses keys that would leave its folder', async () => {
      await expect(storage.write('../outside', Buffer.from('x'), 1 * MB)).rejects.toThrow(/relative path/);
      await expect(storage.read('/etc/passwd')).rejects.toThrow(/relative path/);
      await expect(storage.remove('files/../../outside')).rejects.toThrow(/relative path/);
    });
});

import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { countedBody } from './disk-file-storage.js';
import { FileMissingError, type FileStorage } from './file-storage.js';

/** Where the bucket is (FILES_S3_*); credentials come from the AWS SDK's own chain (AWS_ACCESS_KEY_ID, roles…). */
export interface S3FileStorageOptions {
  bucket: string;
  /** An S3-compatible service (MinIO, R2…); undefined is AWS itself. */
  endpoint: string | undefined;
  region: string;
  /** Put before every key, to share a bucket: `proxy/` stores `files/file-1` as `proxy/files/file-1`. */
  prefix: string;
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key`, which most S3-compatible services need. */
  forcePathStyle: boolean;
}

/**
 * Files as objects in an S3-compatible bucket (FILES_S3_BUCKET), for gateways and workers on
 * several machines. An object appears only once its upload completes, so a reader sees the whole
 * file or none.
 */
export class S3FileStorage implements FileStorage {
  readonly describe: string;
  private readonly client: S3Client;

  constructor(private readonly options: S3FileStorageOptions) {
    this.describe = `s3 ${options.bucket}`;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint === undefined
        ? {}
        : {
            endpoint: options.endpoint,
            // The SDK adds CRC32 checksums to every upload by default, which several S3-compatible
            // services reject; they get only the checksums S3 itself requires (as before SDK 3.729).
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
          }),
    });
  }

  /**
   * Streams the body up in parts (`Upload`: one PutObject when it is small, a multipart upload
   * otherwise), so an upload of unknown length is never held whole in memory. On failure Upload
   * aborts its multipart upload itself; the object is deleted too, in case it got completed.
   */
  async write(key: string, body: Readable | Buffer, maxBytes: number): Promise<number> {
    const counted = countedBody(body, maxBytes);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: this.objectKey(key), Body: counted.stream },
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      counted.stream.destroy();
      await this.remove(key).catch(() => undefined);
      // The body's own failure (too large, say) rather than what the upload made of it.
      throw counted.failure() ?? error;
    }
    return counted.size();
  }

  async read(key: string): Promise<Readable> {
    let body: unknown;
    try {
      ({ Body: body } = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }),
      ));
    } catch (error) {
      if (isMissing(error)) throw new FileMissingError(key);
      throw error;
    }
    // In Node the body is the response itself (an IncomingMessage with the SDK's helpers mixed in).
    if (!(body instanceof Readable)) throw new Error(`S3 answered GetObject ${key} without a readable body.`);
    return body;
  }

  /** S3 deletes are idempotent: deleting a key with no object succeeds. */
  async remove(key: string): Promise<void> {
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }),
    );
  }

  private objectKey(key: string): string {
    return this.options.prefix + key;
  }
}

/**
 * NoSuchKey, or a 404 the SDK could not name (some S3-compatible services); but not a missing
 * bucket, which is a setting to fix rather than a file that is not there.
 */
function isMissing(error: unknown): boolean {
  if (error instanceof NoSuchKey) return true;
  return (
    error instanceof S3ServiceException &&
    error.name !== 'NoSuchBucket' &&
    error.$metadata.httpStatusCode === 404
  );
}

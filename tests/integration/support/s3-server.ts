import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The part of s3rver's API used here (the package has no types). */
interface S3rver {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverOptions = {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
};
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rver;

/** A real S3-compatible server (s3rver, from npm), on a free port, keeping its objects in `directory`. */
export interface TestS3Server {
  endpoint: string;
  directory: string;
  close(): Promise<void>;
}

/**
 * Starts s3rver with `bucket`. s3rver, not PyPI's moto: this machine reaches the npm registry and
 * not PyPI, and s3rver speaks enough of S3 (multipart uploads included) for the official AWS SDK.
 * Its credentials are `S3RVER` / `S3RVER`.
 */
export async function startS3Server(bucket: string): Promise<TestS3Server> {
  const directory = mkdtempSync(join(tmpdir(), 'oaip-s3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

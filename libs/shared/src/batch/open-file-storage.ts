import type { CommonConfig } from '../config/schema.js';
import type { FileStorage } from './file-storage.js';

/** The settings that choose and reach the file storage. */
export type FileStorageSetting =
  | 'FILES_DIR'
  | 'FILES_S3_BUCKET'
  | 'FILES_S3_ENDPOINT'
  | 'FILES_S3_REGION'
  | 'FILES_S3_PREFIX'
  | 'FILES_S3_FORCE_PATH_STYLE';

/**
 * The storage the settings name: an S3-compatible bucket when FILES_S3_BUCKET is set, else the
 * folder FILES_DIR. Each is loaded only when chosen (the AWS SDK is large).
 */
export async function openFileStorage(config: Pick<CommonConfig, FileStorageSetting>): Promise<FileStorage> {
  if (config.FILES_S3_BUCKET !== undefined) {
    const { S3FileStorage } = await import('./s3-file-storage.js');
    return new S3FileStorage({
      bucket: config.FILES_S3_BUCKET,
      endpoint: config.FILES_S3_ENDPOINT,
      region: config.FILES_S3_REGION,
      prefix: config.FILES_S3_PREFIX,
      forcePathStyle: config.FILES_S3_FORCE_PATH_STYLE,
    });
  }
  const { DiskFileStorage } = await import('./disk-file-storage.js');
  return new DiskFileStorage(config.FILES_DIR);
}

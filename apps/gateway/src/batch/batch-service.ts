import type { Readable } from 'node:stream';
import {
  type BatchObject,
  type FileObject,
  type FileStorage,
  type ListPage,
  newBatchId,
  ProxyError,
  storageKeyOf,
} from '@openai-proxy/shared';
import type { BatchStore, FileStore } from '@openai-proxy/shared/redis';

/** The endpoints a batch may run, as OpenAI names them; the proxy folds these three. */
export const BATCH_ENDPOINTS: readonly string[] = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/responses',
];

/** OpenAI's only completion window. */
const WINDOW_SECONDS = 24 * 3600;

export const fileNotFound = (id: string) =>
  new ProxyError('not_found', `No such File object: ${id}`, { param: 'id' });
const batchNotFound = (id: string) =>
  new ProxyError('not_found', `No batch found with id '${id}'.`, { param: 'id' });

/** What the queue does for batches (the queued completer provides it). */
export interface BatchQueue {
  /** Queues the batch's first step (its check), or throws the ProxyError that refuses it. */
  validate(batchId: string): Promise<void>;
}

/**
 * The Batch API on the gateway (queue mode): files kept in a FileStorage with their metadata in
 * Redis, batches kept in Redis and run by the worker farm at batch priority (apps/worker/src/batch).
 * Files and batches belong to the gateway key that made them (`owner`): for another key they do not exist.
 */
export class BatchService {
  private storage: Promise<FileStorage> | undefined;

  constructor(
    readonly batches: BatchStore,
    readonly files: FileStore,
    private readonly openStorage: () => Promise<FileStorage>,
    private readonly queue: BatchQueue,
  ) {}

  /** The storage, opened once (the S3 client is loaded only when files are used). */
  fileStorage(): Promise<FileStorage> {
    this.storage ??= this.openStorage();
    return this.storage;
  }

  async file(id: string, owner: string): Promise<FileObject> {
    const file = await this.files.get(id, owner);
    if (file === undefined) throw fileNotFound(id);
    return file;
  }

  async fileContent(id: string, owner: string): Promise<Readable> {
    const file = await this.file(id, owner);
    return (await this.fileStorage()).read(storageKeyOf(file.id));
  }

  async deleteFile(id: string, owner: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    const file = await this.file(id, owner);
    await this.files.remove(file.id, owner);
    await (await this.fileStorage()).remove(storageKeyOf(file.id));
    return { id: file.id, object: 'file', deleted: true };
  }

  /** Keeps a new batch (`validating`) and queues its check. */
  async create(
    params: {
      input_file_id: string;
      endpoint: string;
      completion_window: string;
      metadata: Record<string, string> | null;
    },
    owner: string,
    credential: string | undefined,
  ): Promise<BatchObject> {
    const input = await this.files.get(params.input_file_id, owner);
    if (input === undefined) throw fileNotFound(params.input_file_id);
    if (input.purpose !== 'batch')
      throw new ProxyError(
        'invalid_value',
        `File ${input.id} has purpose "${input.purpose}"; a batch needs one of purpose "batch".`,
        {
          param: 'input_file_id',
        },
      );
    const createdAt = Math.floor(Date.now() / 1000);
    const id = newBatchId();
    await this.batches.create(
      { id, ...params, created_at: createdAt, expires_at: createdAt + WINDOW_SECONDS },
      owner,
      credential,
    );
    await this.batches.count('created');
    await this.queue.validate(id);
    return this.batch(id, owner);
  }

  async batch(id: string, owner: string): Promise<BatchObject> {
    const batch = await this.batches.get(id, owner);
    if (batch === undefined) throw batchNotFound(id);
    return batch;
  }

  list(
    owner: string,
    options: { limit: number; after?: string | undefined },
  ): Promise<ListPage<BatchObject>> {
    return this.batches.list(owner, options);
  }

  /**
   * Cancels a batch that is validating or running: `cancelling` until the lines already running
   * end (the others are not run), then `cancelled` with the partial output. One that ended is
   * returned as it is.
   */
  async cancel(id: string, owner: string): Promise<BatchObject> {
    await this.batch(id, owner);
    await this.batches.move(id, 'cancelling', ['validating', 'in_progress']);
    return this.batch(id, owner);
  }
}

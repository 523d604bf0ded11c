import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import {
  errors,
  FileMissingError,
  type FileObject,
  FileTooLargeError,
  isObject,
  newFileId,
  ProxyError,
  storageKeyOf,
} from '@openai-proxy/shared';
import busboy from 'busboy';
import type { Request } from 'express';
import type { Guard } from '../pipeline/guard.js';
import { readJsonBody } from '../pipeline/json-body.js';
import type { RouteHandler } from '../pipeline/request-door.js';
import { writeJson } from '../pipeline/write-json.js';
import { clientCredential } from '../relay/upstream-relay.js';
import type { RouteDeps } from '../routes/route-deps.js';
import { ownerOf } from '../security/owner-of.js';
import { BATCH_ENDPOINTS, type BatchService, fileNotFound } from './batch-service.js';

/**
 * OpenAI's Files and Batch APIs on the gateway (queue mode; standalone refuses them with a 400):
 * `POST /v1/files` (multipart: `file`, `purpose: "batch"`), `GET /v1/files[/{id}[/content]]`,
 * `DELETE /v1/files/{id}`, `POST /v1/batches`, `GET /v1/batches[/{id}]`, `POST /v1/batches/{id}/cancel`.
 */

function queueModeOnly(deps: RouteDeps): BatchService {
  const service = deps.completer.batches;
  if (service === undefined)
    throw errors.badRequest(
      'Batches and their files need queue mode: start the proxy with REDIS_URL and workers.',
      null,
      'invalid_request',
    );
  return service;
}

const json = (res: Parameters<RouteHandler>[1], value: unknown) => writeJson(res, 200, JSON.stringify(value));

/** `limit` (1–100, default 20 as OpenAI's), `after` and `order` of a listing. */
function listQuery(req: Request): { limit: number; after: string | undefined; order: 'asc' | 'desc' } {
  const { limit, after, order } = req.query;
  const number = limit === undefined ? 20 : Number(limit);
  if (!Number.isInteger(number) || number < 1 || number > 10_000)
    throw errors.badRequest('`limit` must be an integer from 1 to 10000.', 'limit', 'invalid_value');
  if (order !== undefined && order !== 'asc' && order !== 'desc')
    throw errors.badRequest('`order` must be asc or desc.', 'order', 'invalid_value');
  return {
    limit: number,
    after: typeof after === 'string' ? after : undefined,
    order: order === 'asc' ? 'asc' : 'desc',
  };
}

export function batchRoutes(deps: RouteDeps, uploadGuard: Guard) {
  /** The handler behind the guard, with the service (queue mode) and the request's owner. */
  const route =
    (
      handler: (service: BatchService, owner: string, ...rest: Parameters<RouteHandler>) => Promise<void>,
      guard: Guard = deps.guard,
    ): RouteHandler =>
    async (req, res, ctx) => {
      await guard(req, res, ctx);
      return handler(queueModeOnly(deps), ownerOf(deps.config, ctx), req, res, ctx);
    };
  const id = (req: Request) => String(req.params.id ?? '');

  return {
    uploadFile: route(async (service, owner, req, res) => {
      const file = await receiveFile(req, service, deps.config.FILES_MAX_BYTES);
      await service.files.add(file, owner);
      json(res, file);
    }, uploadGuard),
    listFiles: route(async (service, owner, req, res) => {
      const purpose = typeof req.query.purpose === 'string' ? req.query.purpose : undefined;
      json(res, await service.files.list(owner, { ...listQuery(req), purpose }));
    }),
    getFile: route(async (service, owner, req, res) => json(res, await service.file(id(req), owner))),
    fileContent: route(async (service, owner, req, res, ctx) => {
      const content = await service.fileContent(id(req), owner).catch((error: unknown) => {
        throw error instanceof FileMissingError ? fileNotFound(id(req)) : error;
      });
      res.statusCode = 200;
      res.setHeader('content-type', 'application/octet-stream');
      await pipeline(content, res, { signal: ctx.clientGone }).catch((error: unknown) => {
        if (!ctx.clientGone.aborted) throw error;
      });
    }),
    deleteFile: route(async (service, owner, req, res) =>
      json(res, await service.deleteFile(id(req), owner)),
    ),

    createBatch: route(async (service, owner, req, res) => {
      const { body } = await readJsonBody(req, deps.config.MAX_BODY_BYTES, deps.config.MAX_JSON_DEPTH);
      const params = batchParams(body);
      const credential = clientCredential(req, 'authorization');
      json(
        res,
        await service.create(
          params,
          owner,
          credential === undefined ? undefined : JSON.stringify(credential),
        ),
      );
    }),
    getBatch: route(async (service, owner, req, res) => json(res, await service.batch(id(req), owner))),
    listBatches: route(async (service, owner, req, res) => {
      const { limit, after } = listQuery(req);
      json(res, await service.list(owner, { limit, after }));
    }),
    cancelBatch: route(async (service, owner, req, res) => json(res, await service.cancel(id(req), owner))),
  };
}

/** `POST /v1/batches`'s body, checked field by field as OpenAI's reference gives it. */
function batchParams(body: Record<string, unknown>) {
  const { input_file_id: input, endpoint, completion_window: window, metadata } = body;
  if (typeof input !== 'string' || input === '')
    throw errors.badRequest(
      '`input_file_id` is required: the id of a file of purpose "batch".',
      'input_file_id',
      'missing_required_parameter',
    );
  if (typeof endpoint !== 'string' || !BATCH_ENDPOINTS.includes(endpoint))
    throw errors.badRequest(
      `\`endpoint\` must be one of ${BATCH_ENDPOINTS.join(', ')}.`,
      'endpoint',
      'invalid_value',
    );
  if (window !== '24h')
    throw errors.badRequest('`completion_window` must be "24h".', 'completion_window', 'invalid_value');
  if (metadata !== undefined && metadata !== null) {
    const entries = isObject(metadata) ? Object.entries(metadata) : [];
    if (
      !isObject(metadata) ||
      entries.length > 16 ||
      entries.some(([key, value]) => typeof value !== 'string' || key.length > 64 || value.length > 512)
    )
      throw errors.badRequest(
        '`metadata` holds at most 16 string values (keys up to 64, values up to 512 characters).',
        'metadata',
        'invalid_value',
      );
  }
  return {
    input_file_id: input,
    endpoint,
    completion_window: window,
    metadata: (metadata ?? null) as Record<string, string> | null,
  };
}

/**
 * Reads a multipart upload (`file`, `purpose`) and streams the file into the storage as it comes:
 * more than `maxBytes` is a 413 and nothing is kept; a purpose other than `batch` a 400, the bytes removed.
 */
async function receiveFile(req: Request, service: BatchService, maxBytes: number): Promise<FileObject> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('multipart/form-data'))
    throw new ProxyError(
      'unsupported_media_type',
      'Upload a file as multipart/form-data, with the fields `file` and `purpose`.',
    );
  const storage = await service.fileStorage();
  const id = newFileId();
  const key = storageKeyOf(id);
  let purpose: string | undefined;
  let filename = 'upload.jsonl';
  // Set in the parser's callback (an object: TypeScript does not follow assignments made in closures).
  const upload: { stored?: Promise<number> } = {};
  const parser = busboy({ headers: req.headers, limits: { files: 1, fields: 10, fileSize: maxBytes + 1 } });
  parser.on('field', (name, value) => {
    if (name === 'purpose') purpose = value;
  });
  parser.on('file', (name, stream, info) => {
    if (name !== 'file' || upload.stored !== undefined) {
      stream.resume();
      return;
    }
    filename = info.filename || filename;
    upload.stored = storage.write(key, stream, maxBytes);
    // Keeps reading (and so the parser going) after the storage gave up on a too-large body.
    upload.stored.catch(() => stream.resume());
  });
  try {
    await pipeline(req, parser);
  } catch (error) {
    await upload.stored?.catch(() => undefined);
    await storage.remove(key).catch(() => undefined);
    throw errors.badRequest(
      `The multipart body could not be read: ${(error as Error).message}`,
      null,
      'invalid_body',
    );
  }
  if (upload.stored === undefined)
    throw errors.badRequest('The upload has no `file` part.', 'file', 'missing_required_parameter');
  let bytes: number;
  try {
    bytes = await upload.stored;
  } catch (error) {
    await storage.remove(key).catch(() => undefined);
    if (error instanceof FileTooLargeError)
      throw new ProxyError(
        'request_too_large',
        `The file is larger than FILES_MAX_BYTES (${maxBytes} bytes).`,
      );
    throw error;
  }
  if (purpose !== 'batch') {
    await storage.remove(key).catch(() => undefined);
    throw errors.badRequest(
      purpose === undefined
        ? '`purpose` is required ("batch").'
        : `This proxy keeps files of purpose "batch" only, not "${purpose}".`,
      'purpose',
      purpose === undefined ? 'missing_required_parameter' : 'invalid_value',
    );
  }
  return {
    id,
    object: 'file',
    bytes,
    created_at: Math.floor(Date.now() / 1000),
    filename: filename.slice(0, 255) || `upload-${randomBytes(4).toString('hex')}`,
    purpose,
    status: 'processed',
    expires_at: null,
  };
}

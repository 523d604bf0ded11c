import { errors, ProxyError, type UpstreamGroup } from '@openai-proxy/shared';
import type { Request } from 'express';
import type { Dispatcher } from 'undici';
import { readBody } from '../pipeline/read-body.js';
import type { RouteHandler } from '../pipeline/request-door.js';
import { writeJson } from '../pipeline/write-json.js';
import { type RelayRequest, relayUpstream } from '../relay/upstream-relay.js';
import { lookUpModel, modelIdOf } from './model-lookup.js';
import type { RouteDeps } from './route-deps.js';

/**
 * Every other `/v1/*` request (models, embeddings, moderations, …) goes to an upstream as is,
 * with the same guard, pick and failover, so the proxy can front an application that uses more
 * than chat. The body travels as raw bytes with the client's content type; the path is passed
 * on as the client wrote it, never decoded here. A JSON body that names a `model` is routed like
 * a completion: to the upstreams serving it (404 `model_not_found` when none does), with the
 * model renamed for an upstream that knows it by an alias. `GET /v1/models` is answered from the
 * configuration when every upstream lists its models; `GET /v1/models/{id}` from it when it names
 * the model, else by the upstreams serving that model (model-lookup.ts).
 */
export function passthroughRoute(deps: RouteDeps): RouteHandler {
  return async (req, res, ctx) => {
    const target = req.originalUrl;
    const models = target === '/v1/models' || target.startsWith('/v1/models?');
    if (models) ctx.route = '/v1/models';
    await deps.guard(req, res, ctx);
    if (!target.startsWith('/v1/')) throw notFound(req.method, target);
    if (models && req.method === 'GET') {
      const listed = deps.relay.upstreams.listedModels();
      if (listed !== undefined) {
        writeJson(res, 200, modelList(listed));
        return;
      }
    }
    const id = req.method === 'GET' ? oneModelId(target) : undefined;
    if (id !== undefined) {
      const lookup = lookUpModel(deps.relay.upstreams, id);
      if (lookup.named) {
        writeJson(res, 200, JSON.stringify(modelObject(id)));
        return;
      }
      ctx.group = lookup.group.label;
      await relayUpstream(req, res, ctx, deps.relay, {
        endpoint: target.slice('/v1'.length),
        method: 'GET',
        group: lookup.group,
      });
      return;
    }
    const bytes = await readBody(req, deps.config.MAX_BODY_BYTES);
    const body = bytes.length > 0 ? bytes : undefined;
    const contentType = req.headers['content-type'];
    const relay: RelayRequest = {
      endpoint: target.slice('/v1'.length),
      method: req.method as Dispatcher.HttpMethod,
      ...(body === undefined ? {} : { body }),
      ...(body !== undefined && contentType ? { contentType } : {}),
    };
    const model = body === undefined ? undefined : namedModel(req, body);
    if (model !== undefined) {
      const group: UpstreamGroup | undefined = deps.relay.upstreams.groupFor(model.name);
      if (group === undefined) throw errors.modelNotFound(model.name);
      ctx.group = group.label;
      relay.group = group;
      relay.model = model.name;
      relay.bodyFor = (upstream) => {
        const alias = upstream.aliasFor(model.name);
        return alias === undefined ? bytes : JSON.stringify({ ...model.body, model: alias });
      };
    }
    await relayUpstream(req, res, ctx, deps.relay, relay);
  };
}

/** The model a JSON body names, with the parsed body; undefined for any other body. */
function namedModel(
  req: Request,
  bytes: Buffer,
): { name: string; body: Record<string, unknown> } | undefined {
  if (!String(req.headers['content-type'] ?? '').includes('json')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    // Not ours to judge: the upstream answers a body it cannot read.
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const body = parsed as Record<string, unknown>;
  return typeof body.model === 'string' && body.model !== '' ? { name: body.model, body } : undefined;
}

/** The model `GET /v1/models/{id}` asks about; undefined for any other path. */
function oneModelId(target: string): string | undefined {
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  if (!path.startsWith(MODEL_PATH) || path.length === MODEL_PATH.length) return undefined;
  return modelIdOf(path.slice(MODEL_PATH.length));
}

const MODEL_PATH = '/v1/models/';

/** One model in OpenAI's shape, from a name the configuration holds. */
function modelObject(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'openai-proxy' };
}

/** `GET /v1/models` in OpenAI's list shape, from the names the configuration lists. */
function modelList(names: readonly string[]): string {
  return JSON.stringify({ object: 'list', data: names.map(modelObject) });
}

/** The 404 of a path no route serves. */
export function notFound(method: string, target: string): ProxyError {
  const query = target.indexOf('?');
  return new ProxyError(
    'not_found',
    `Unknown path: ${method} ${query < 0 ? target : target.slice(0, query)}`,
  );
}

import { ProxyError } from '@openai-proxy/shared';
import type { Dispatcher } from 'undici';
import { readBody } from '../pipeline/read-body.js';
import type { RouteHandler } from '../pipeline/request-door.js';
import { relayUpstream } from '../relay/upstream-relay.js';
import type { RouteDeps } from './route-deps.js';

/**
 * Every other `/v1/*` request (models, embeddings, moderations, …) goes to an upstream as is,
 * with the same guard, pick and failover, so the proxy can front an application that uses more
 * than chat. The body travels as raw bytes with the client's content type; the path is passed
 * on as the client wrote it, never decoded here.
 */
export function passthroughRoute(deps: RouteDeps): RouteHandler {
  return async (req, res, ctx) => {
    const target = req.originalUrl;
    if (target === '/v1/models' || target.startsWith('/v1/models?')) ctx.route = '/v1/models';
    await deps.guard(req, res, ctx);
    if (!target.startsWith('/v1/')) throw notFound(req.method, target);
    const bytes = await readBody(req, deps.config.MAX_BODY_BYTES);
    const body = bytes.length > 0 ? bytes : undefined;
    const contentType = req.headers['content-type'];
    await relayUpstream(req, res, ctx, deps.relay, {
      endpoint: target.slice('/v1'.length),
      method: req.method as Dispatcher.HttpMethod,
      ...(body === undefined ? {} : { body }),
      ...(body !== undefined && contentType ? { contentType } : {}),
    });
  };
}

/** The 404 of a path no route serves. */
export function notFound(method: string, target: string): ProxyError {
  const query = target.indexOf('?');
  return new ProxyError(
    'not_found',
    `Unknown path: ${method} ${query < 0 ? target : target.slice(0, query)}`,
  );
}

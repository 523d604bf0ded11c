import { Router } from 'express';
import type { Dispatcher } from 'undici';
import { boundedBody } from '../middleware/bounded-body.js';
import { relayUpstream } from '../relay/upstream-relay.js';
import type { RouteDeps } from './route-deps.js';

/**
 * Every other `/v1/*` request (models, embeddings, moderations, …) goes to an upstream as is,
 * with the same pick and failover, so the proxy can front an application that uses more than
 * chat. The body travels as raw bytes with the client's content type.
 */
export function passthroughRoute(deps: RouteDeps, maxBodyBytes: number): Router {
  return Router().all('/v1/{*rest}', boundedBody(maxBodyBytes), async (req, res) => {
    res.locals.route = req.path === '/v1/models' ? '/v1/models' : '/v1/*';
    const body = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;
    const contentType = req.headers['content-type'];
    const endpoint = req.originalUrl.slice('/v1'.length);
    await relayUpstream(req, res, deps.relay, {
      endpoint,
      method: req.method as Dispatcher.HttpMethod,
      ...(body === undefined ? {} : { body }),
      ...(body !== undefined && contentType ? { contentType } : {}),
    });
  });
}

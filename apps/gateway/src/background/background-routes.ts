import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import {
  type CompletionApi,
  errors,
  foldBody,
  isBackgroundId,
  pickForwardedHeaders,
  type StoredEvent,
} from '@openai-proxy/shared';
import type { Request } from 'express';
import type { RequestContext } from '../pipeline/request-context.js';
import type { RouteHandler } from '../pipeline/request-door.js';
import { writeJson } from '../pipeline/write-json.js';
import { clientCredential } from '../relay/upstream-relay.js';
import type { RouteDeps } from '../routes/route-deps.js';
import { ownerOf } from '../security/owner-of.js';
import type { BackgroundResponses } from './background-responses.js';

/**
 * OpenAI's background mode on the gateway, queue mode only (the whole lifecycle is in
 * background-responses.ts):
 * - `POST /v1/responses` with `background: true`: the `queued` object at once (or, with
 *   `stream: true`, its events as they come);
 * - `GET /v1/responses/{id}`: the object now; `?stream=true[&starting_after=N]`: its events after N;
 * - `POST /v1/responses/{id}/cancel`, `DELETE /v1/responses/{id}`.
 * Ids this proxy did not make (an upstream's stored responses) go on to the upstream as before.
 */

function queueModeOnly(deps: RouteDeps): BackgroundResponses {
  const background = deps.completer.background;
  if (background === undefined)
    throw errors.badRequest(
      'Background responses (`background: true`) need queue mode: start the proxy with REDIS_URL and workers.',
      'background',
      'invalid_value',
    );
  return background;
}

/** `POST /v1/responses` with `background: true`, past the route's checks and model lookup. */
export async function createBackgroundResponse(
  req: Request,
  res: ServerResponse,
  ctx: RequestContext,
  deps: RouteDeps,
  api: CompletionApi,
  body: Record<string, unknown>,
  stream: boolean,
): Promise<void> {
  const background = queueModeOnly(deps);
  // The upstream is asked for an ordinary stream: `background` is ours to keep.
  const { background: _mode, ...upstreamBody } = body;
  const credential = clientCredential(req, api.keyHeader);
  const created = await background.create(
    {
      kind: api.kind,
      body: foldBody(upstreamBody),
      headers: pickForwardedHeaders(req.headers),
      ...(credential === undefined ? {} : { credential }),
      requestId: ctx.id,
    },
    body,
    ownerOf(deps.config, ctx),
  );
  deps.metrics.backgroundCreated.inc();
  ctx.queued = true;
  if (!stream) {
    writeJson(res, 200, created);
    return;
  }
  const id = (JSON.parse(created) as { id: string }).id;
  await streamEvents(res, ctx, deps, background, id, -1);
}

/** `GET`, `POST …/cancel` and `DELETE` on `/v1/responses/{id}`; `other` serves every other id. */
export function backgroundResponseRoutes(deps: RouteDeps, other: RouteHandler) {
  /** Runs `handler` for one of our ids in queue mode; anything else is `other`'s. */
  const ours =
    (
      handler: (
        background: BackgroundResponses,
        id: string,
        owner: string,
        ...rest: Parameters<RouteHandler>
      ) => Promise<void>,
    ): RouteHandler =>
    async (req, res, ctx) => {
      const id = String(req.params.id ?? '');
      const background = deps.completer.background;
      if (background === undefined || !isBackgroundId(id)) {
        ctx.route = '/v1/*';
        return other(req, res, ctx);
      }
      await deps.guard(req, res, ctx);
      return handler(background, id, ownerOf(deps.config, ctx), req, res, ctx);
    };
  return {
    retrieve: ours(async (background, id, owner, req, res, ctx) => {
      const { stream, startingAfter } = retrieveQuery(req.query);
      if (!stream) {
        writeJson(res, 200, await background.retrieve(id, owner));
        return;
      }
      await background.check(id, owner);
      await streamEvents(res, ctx, deps, background, id, startingAfter);
    }),
    cancel: ours(async (background, id, owner, _req, res) => {
      const { object, cancelled } = await background.cancel(id, owner);
      if (cancelled) deps.metrics.backgroundCancelled.inc();
      writeJson(res, 200, object);
    }),
    remove: ours(async (background, id, owner, _req, res) => {
      writeJson(res, 200, await background.remove(id, owner));
    }),
  };
}

/** `stream` and `starting_after` as OpenAI's retrieve takes them. */
function retrieveQuery(query: Request['query']): { stream: boolean; startingAfter: number } {
  const stream = query.stream;
  if (stream !== undefined && stream !== 'true' && stream !== 'false')
    throw errors.badRequest('`stream` must be true or false.', 'stream', 'invalid_value');
  const after = query.starting_after;
  if (after === undefined) return { stream: stream === 'true', startingAfter: -1 };
  const number = typeof after === 'string' && /^\d{1,15}$/.test(after) ? Number(after) : Number.NaN;
  if (!Number.isSafeInteger(number))
    throw errors.badRequest(
      '`starting_after` must be a non-negative integer.',
      'starting_after',
      'invalid_value',
    );
  return { stream: stream === 'true', startingAfter: number };
}

/** The event's type: its data begins with it (`eventData`). */
function typeOf(event: StoredEvent): string {
  const match = /^\{"type":"([^"\\]*)"/.exec(event.data);
  return match?.[1] ?? 'message';
}

/**
 * Serves a response's events after `after` as server-sent events, named by their type as OpenAI
 * streams them, until the response has ended and its last event went out (a cancelled one ends
 * without a final event), or the client leaves.
 */
async function streamEvents(
  res: ServerResponse,
  ctx: RequestContext,
  deps: RouteDeps,
  background: BackgroundResponses,
  id: string,
  after: number,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const signal = ctx.clientGone;
  deps.metrics.backgroundStreams.inc();
  try {
    await background.follow(id, after, signal, async (events) => {
      let text = '';
      for (const event of events) text += `event: ${typeOf(event)}\ndata: ${event.data}\n\n`;
      if (!res.write(text)) await once(res, 'drain', { signal }).catch(() => undefined);
    });
  } catch (error) {
    // The status went out: an error can only end the stream.
    deps.logger.warn(
      { err: error, requestId: ctx.id, responseId: id },
      'a background response stream broke off',
    );
  } finally {
    deps.metrics.backgroundStreams.dec();
    res.end();
  }
}

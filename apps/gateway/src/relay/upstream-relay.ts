import {
  type ClientCredential,
  errors,
  hasCapacityLimits,
  isUpstreamFailure,
  type KeyHeader,
  type OpenSink,
  pickForwardedHeaders,
  relayableResponseHeaders,
  streamUpstream,
  TextSink,
  type Upstream,
  type UpstreamGroup,
  type UpstreamObserver,
  type UpstreamRequest,
  type UpstreamSet,
  type UpstreamTimeouts,
  upstreamBodyIn,
  withDeadline,
} from '@openai-proxy/shared';
import type { Request, Response } from 'express';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../pipeline/request-context.js';
import { writeJson } from '../pipeline/write-json.js';
import { modelRenamingWriter } from './model-renaming-writer.js';
import { type StreamCapacity, streamWithinCapacity } from './stream-within-capacity.js';

/** How long a stream without UPSTREAM_TOTAL_TIMEOUT_MS holds its upstream's place at most. */
const STREAM_LEASE_MS = 600_000;

export interface RelaySettings {
  upstreams: UpstreamSet;
  /** Queue mode: streams to groups with limits wait for an upstream's room (stream-within-capacity.ts). */
  capacity?: StreamCapacity | undefined;
  maxTries: number;
  timeouts: UpstreamTimeouts;
  totalTimeoutMs: number;
  observe: UpstreamObserver;
}

export interface RelayRequest {
  /** Path below `/v1`, query included. */
  endpoint: string;
  method: Dispatcher.HttpMethod;
  body?: Buffer;
  /** The client's content type, for pass-through bodies that are not JSON (e.g. multipart). */
  contentType?: string;
  /** Where the API takes its key (Anthropic's `x-api-key` on /v1/messages); `authorization` otherwise. */
  keyHeader?: KeyHeader;
  /** The upstreams serving the request's model; every upstream when it names none. */
  group?: UpstreamGroup;
  /** The model the client asked for: an upstream that knows it by an alias answers under this name. */
  model?: string;
  /** The body for one upstream, when it may differ from `body` (see `streamBodyFor`). */
  bodyFor?: (upstream: Upstream) => string | Buffer;
}

/**
 * Pipes one upstream response to the client as it comes: status, headers (less hop-by-hop)
 * and body bytes untouched, except an error on an Anthropic route, which is read whole and
 * answered in Anthropic's shape (`upstreamBodyIn`) whatever shape the upstream gave it. Failover
 * happens inside `streamUpstream`, before the status line, so a client never gets bytes from two
 * upstreams. A client that leaves aborts the upstream call at once. Errors before the status line
 * are thrown, for the door to answer.
 */
export async function relayUpstream(
  req: Request,
  res: Response,
  ctx: RequestContext,
  settings: RelaySettings,
  relay: RelayRequest,
): Promise<void> {
  const { signal, dispose } = withDeadline(ctx.clientGone, settings.totalTimeoutMs, 'total_timeout');
  const headers = pickForwardedHeaders(req.headers);
  const keyHeader = relay.keyHeader ?? 'authorization';
  if (relay.contentType !== undefined) headers['content-type'] = relay.contentType;
  let errorBody: TextSink | undefined;
  try {
    const group = relay.group ?? settings.upstreams.groupFor(undefined) ?? noUpstream();
    const request: UpstreamRequest = {
      endpoint: relay.endpoint,
      method: relay.method,
      headers,
      keyHeader,
      clientCredential: clientCredential(req, keyHeader),
      ...(relay.body === undefined ? {} : { body: relay.body }),
      ...(relay.bodyFor === undefined ? {} : { bodyFor: relay.bodyFor }),
      signal,
      maxTries: settings.maxTries,
    };
    const openSink: OpenSink = (upstream, statusCode, upstreamHeaders) => {
      ctx.upstream = upstream.label;
      res.statusCode = statusCode;
      for (const [name, value] of Object.entries(relayableResponseHeaders(upstreamHeaders)))
        res.setHeader(name, value);
      const { requestIdHeader, upstreamErrorBody } = ctx.errorDialect;
      // The proxy's id names the request, as the door said, over the upstream's own.
      if (requestIdHeader !== undefined) res.setHeader(requestIdHeader, ctx.id);
      // An error the dialect rewrites is read whole and answered in its shape (below), not piped.
      if (upstreamErrorBody !== undefined && statusCode >= 400) {
        errorBody = new TextSink();
        return errorBody;
      }
      // An SSE client sees its 200 before the first event: the status line goes out once the
      // bytes read with it are handled. A first event read with the headers (a fast provider, a
      // short answer) carries it in the same write, one syscall and packet instead of two.
      queueMicrotask(() => {
        if (!res.headersSent && !res.destroyed) res.flushHeaders();
      });
      const model = relay.model;
      if (model !== undefined && statusCode < 300 && upstream.aliasFor(model) !== undefined)
        return modelRenamingWriter(res, model);
      return res;
    };
    // Without Redis no limit can be kept: streams go on unscheduled, as they do without limits.
    if (settings.capacity?.store.isReady() && hasCapacityLimits(group)) {
      // A stream holds its upstream's place as long as it may last.
      const leaseMs = settings.totalTimeoutMs > 0 ? settings.totalTimeoutMs : STREAM_LEASE_MS;
      await streamWithinCapacity(settings.capacity, group, request, openSink, settings.observe, leaseMs);
    } else {
      await streamUpstream(group, request, openSink, settings.observe);
    }
    if (errorBody !== undefined)
      writeJson(res, res.statusCode, upstreamBodyIn(ctx.errorDialect, res.statusCode, errorBody.text));
  } catch (error) {
    if (ctx.left) return;
    const failure = signal.aborted ? signal.reason : error;
    // Before the status line: a clean OpenAI-shaped error (`streamUpstream` made every upstream
    // failure a ProxyError; anything else is a bug of ours, for sendError's 500 with its stack).
    if (!res.headersSent) throw failure;
    // After it: the body is cut, which a streaming client sees as an unfinished stream (no
    // [DONE]), never as a shortened success. A bug of ours still goes to sendError, to be logged.
    if (!isUpstreamFailure(failure)) throw failure;
    res.destroy();
  } finally {
    dispose();
  }
}

/** A table always holds an upstream (the configuration requires one); this is for the type checker. */
function noUpstream(): never {
  throw errors.upstreamUnavailable('No upstream is configured.');
}

/**
 * The client's own key, to pass on as it came (the guard removed it when keys are server-side):
 * `Authorization`, or, on a route whose API takes `x-api-key`, that header first (Anthropic's
 * SDKs send either, and an OAuth token only ever as `Authorization`).
 */
export function clientCredential(req: Request, keyHeader: KeyHeader): ClientCredential | undefined {
  const apiKey = req.headers['x-api-key'];
  if (keyHeader === 'x-api-key' && typeof apiKey === 'string' && apiKey !== '')
    return { header: 'x-api-key', value: apiKey };
  const authorization = req.headers.authorization;
  return authorization === undefined ? undefined : { header: 'authorization', value: authorization };
}

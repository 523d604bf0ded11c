import {
  ClientGoneError,
  pickForwardedHeaders,
  relayableResponseHeaders,
  streamUpstream,
  toUpstreamError,
  type UpstreamObserver,
  type UpstreamSet,
  type UpstreamTimeouts,
  withDeadline,
} from '@openai-proxy/shared';
import type { Request, Response } from 'express';
import type { Dispatcher } from 'undici';

export interface RelaySettings {
  upstreams: UpstreamSet;
  maxTries: number;
  timeouts: UpstreamTimeouts;
  totalTimeoutMs: number;
  observe?: UpstreamObserver;
}

export interface RelayRequest {
  /** Path below `/v1`, query included. */
  endpoint: string;
  method: Dispatcher.HttpMethod;
  body?: Buffer;
  /** The client's content type, for pass-through bodies that are not JSON (e.g. multipart). */
  contentType?: string;
}

/**
 * Pipes one upstream response to the client as it comes: status, headers (less hop-by-hop)
 * and body bytes untouched. Failover happens inside `streamUpstream`, before the status line,
 * so a client never gets bytes from two upstreams. A client that leaves aborts the upstream
 * call at once.
 */
export async function relayUpstream(
  req: Request,
  res: Response,
  settings: RelaySettings,
  relay: RelayRequest,
): Promise<void> {
  const clientGone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) clientGone.abort(new ClientGoneError());
  });
  const { signal, dispose } = withDeadline(clientGone.signal, settings.totalTimeoutMs, 'total timeout');
  try {
    await streamUpstream(
      settings.upstreams,
      {
        endpoint: relay.endpoint,
        method: relay.method,
        headers: {
          ...pickForwardedHeaders(req.headers),
          ...(relay.contentType === undefined ? {} : { 'content-type': relay.contentType }),
        },
        clientAuthorization: req.headers.authorization,
        ...(relay.body === undefined ? {} : { body: relay.body }),
        signal,
        maxTries: settings.maxTries,
        timeouts: settings.timeouts,
      },
      (upstream, statusCode, headers) => {
        res.locals.upstream = upstream.label;
        res.status(statusCode);
        for (const [name, value] of Object.entries(relayableResponseHeaders(headers)))
          res.setHeader(name, value);
        // The status line goes out now, so an SSE client sees its 200 before the first event.
        res.flushHeaders();
        return res;
      },
      settings.observe,
    );
  } catch (error) {
    if (clientGone.signal.aborted) return;
    // Before the status line: a clean OpenAI-shaped error. After it: the body is cut, which a
    // streaming client sees as an unfinished stream (no [DONE]), never as a shortened success.
    if (!res.headersSent) throw toUpstreamError(signal.aborted ? signal.reason : error, settings.timeouts);
    res.destroy();
  } finally {
    dispose();
  }
}

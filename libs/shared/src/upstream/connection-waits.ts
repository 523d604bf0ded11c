import { DecoratorHandler, type Dispatcher } from 'undici';
import type { Upstream } from './upstream.js';

/**
 * A request to an upstream may wait for a connection before it is sent: every one of the pool's
 * `UPSTREAM_CONNECTIONS` is held by a stream (a stream holds its connection for its whole life),
 * or one is being opened. undici queues it quietly, and the wait looks like a slow upstream.
 * These make it visible: how many wait now (the pool's queue), and how long each waited.
 */

/** Per upstream: connections open, requests running on them, requests queued for one. */
export interface ConnectionUse {
  connected: number;
  running: number;
  queued: number;
}

export function connectionUse(upstream: Upstream): ConnectionUse {
  const { connected, running, queued } = upstream.pool.stats;
  return { connected, running, queued };
}

/** Who hears of each request's wait: one per process part that tracks upstreams (a gateway, a worker). */
const observers = new Set<(upstream: Upstream, seconds: number) => void>();

/**
 * Starts a request's wait at its dispatch (before the pool's queue) and ends it when the request
 * starts on a connection (`onRequestStart`, right before its headers are written); every other
 * step goes to the request's own handler, as undici's DecoratorHandler passes it on.
 */
class WaitTimer implements Dispatcher.DispatchHandler {
  private readonly startedAt = performance.now();
  private readonly inner: Required<
    Pick<
      Dispatcher.DispatchHandler,
      | 'onRequestStart'
      | 'onRequestUpgrade'
      | 'onResponseStart'
      | 'onResponseData'
      | 'onResponseEnd'
      | 'onResponseError'
    >
  >;

  constructor(
    handler: Dispatcher.DispatchHandler,
    private readonly upstream: Upstream,
  ) {
    this.inner = new DecoratorHandler(handler) as WaitTimer['inner'];
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    const seconds = (performance.now() - this.startedAt) / 1000;
    for (const observe of observers) observe(this.upstream, seconds);
    this.inner.onRequestStart(controller, context);
  }

  onRequestUpgrade(...args: Parameters<WaitTimer['inner']['onRequestUpgrade']>): void {
    this.inner.onRequestUpgrade(...args);
  }

  onResponseStart(...args: Parameters<WaitTimer['inner']['onResponseStart']>): void {
    this.inner.onResponseStart(...args);
  }

  onResponseData(...args: Parameters<WaitTimer['inner']['onResponseData']>): void {
    this.inner.onResponseData(...args);
  }

  onResponseEnd(...args: Parameters<WaitTimer['inner']['onResponseEnd']>): void {
    this.inner.onResponseEnd(...args);
  }

  onResponseError(...args: Parameters<WaitTimer['inner']['onResponseError']>): void {
    this.inner.onResponseError(...args);
  }
}

/** The interceptor an upstream's pool is composed with, so that each request's wait is timed. */
export function connectionWaitTimer(upstream: Upstream): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) =>
    observers.size === 0 ? dispatch(options, handler) : dispatch(options, new WaitTimer(handler, upstream));
}

/**
 * Hands `observe` each request's wait for a connection to one of `upstreams` (the wait in the
 * pool's queue, and the opening of a new connection). Returns the function that stops it.
 */
export function watchConnectionWaits(
  upstreams: () => readonly Upstream[],
  observe: (label: string, seconds: number) => void,
): () => void {
  const observer = (upstream: Upstream, seconds: number) => {
    if (upstreams().includes(upstream)) observe(upstream.label, seconds);
  };
  observers.add(observer);
  return () => observers.delete(observer);
}

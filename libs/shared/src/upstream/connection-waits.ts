import { type Dispatcher, Pool } from 'undici';
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

type Step = (...args: unknown[]) => unknown;

/**
 * An upstream's pool that times each request's wait for a connection: from its dispatch (before
 * the pool's queue) to the moment it starts on a connection, right before its headers are written
 * (the handler's `onConnect`, or `onRequestStart` for a handler of undici's newer interface). The
 * handler's own step is replaced on that one object, not wrapped: a wrapper (undici's `compose`)
 * would sit between the pool and the handler for every chunk of the stream.
 */
export class TimedPool extends Pool {
  /** The upstream it serves now (a reloaded table hands the pool to the new Upstream). */
  owner: Upstream | undefined;

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const upstream = this.owner;
    if (observers.size > 0 && upstream !== undefined) timeStart(handler as Record<string, unknown>, upstream);
    return super.dispatch(options, handler);
  }
}

function timeStart(handler: Record<string, unknown>, upstream: Upstream): void {
  const name = typeof handler.onConnect === 'function' ? 'onConnect' : 'onRequestStart';
  const step = handler[name];
  if (typeof step !== 'function') return;
  const startedAt = performance.now();
  handler[name] = function (this: unknown, ...args: unknown[]) {
    const seconds = (performance.now() - startedAt) / 1000;
    for (const observe of observers) observe(upstream, seconds);
    return (step as Step).apply(this, args);
  };
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

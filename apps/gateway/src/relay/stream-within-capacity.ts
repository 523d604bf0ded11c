import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  capacityExhausted,
  discard,
  estimatedTokens,
  isUpstreamFailure,
  limitsLearnt,
  type OpenSink,
  reserveInGroup,
  streamUpstream,
  type Upstream,
  UpstreamGroup,
  type UpstreamObserver,
  type UpstreamRequest,
} from '@openai-proxy/shared';
import type { CapacityStore } from '@openai-proxy/shared/redis';

/** Streams to groups with limits: where each upstream's room is kept, and how long a stream may wait for it. */
export interface StreamCapacity {
  store: CapacityStore;
  waitMs: number;
}

/**
 * `streamUpstream` for a group with limits: each try first reserves a member with room (waiting up
 * to `waitMs` in all, then a 429 with the computed Retry-After), calls it alone, and releases it
 * when the body has been relayed; the store learns what its headers said. A 429 or 5xx before the
 * status line reaches the client is tried again, on another member or once one has room, as long
 * as tries are left; the last try's answer is relayed whatever it is, as without limits.
 */
export async function streamWithinCapacity(
  capacity: StreamCapacity,
  group: UpstreamGroup,
  request: UpstreamRequest,
  openSink: OpenSink,
  observe: UpstreamObserver,
  leaseMs: number,
): Promise<Upstream> {
  const { store } = capacity;
  const body = request.body;
  const tokens = estimatedTokens(body === undefined ? '' : body.toString());
  const waitUntil = Date.now() + capacity.waitMs;
  const failed = new Set<Upstream>();
  for (let attempt = 0; ; ) {
    const untried = group.members.filter((member) => !failed.has(member));
    const lease = `stream:${randomUUID()}`;
    const reservation = await reserveInGroup(
      store,
      untried.length > 0 ? untried : group.members,
      tokens,
      lease,
      leaseMs,
    );
    if ('waitMs' in reservation) {
      if (Date.now() + reservation.waitMs > waitUntil) throw capacityExhausted(reservation.waitMs);
      await sleep(reservation.waitMs, undefined, { signal: request.signal });
      continue;
    }
    const { upstream } = reservation;
    attempt += 1;
    const lastTry = attempt >= request.maxTries;
    let seen: { status: number; headers: IncomingHttpHeaders } | undefined;
    let retry = false;
    try {
      await streamUpstream(
        new UpstreamGroup([upstream], group.label),
        { ...request, maxTries: 1 },
        (chosen, status, headers) => {
          seen = { status, headers };
          retry = !lastTry && (status === 429 || status >= 500);
          return retry ? discard() : openSink(chosen, status, headers);
        },
        observe,
      );
    } catch (error) {
      // Nothing reached the client (no status line from this upstream): another try may.
      const beforeStatusLine = seen === undefined && isUpstreamFailure(error) && !request.signal.aborted;
      if (!beforeStatusLine || lastTry) throw error;
      failed.add(upstream);
      continue;
    } finally {
      // Neither may fail the stream: a lease not released expires, and the next answer teaches again.
      await store.release(upstream.label, lease, tokens, undefined).catch(() => undefined);
      if (seen !== undefined)
        await store
          .learn(upstream.label, limitsLearnt(seen.status, seen.headers, upstream))
          .catch(() => undefined);
    }
    if (!retry) return upstream;
    if (seen !== undefined && seen.status >= 500) failed.add(upstream);
  }
}

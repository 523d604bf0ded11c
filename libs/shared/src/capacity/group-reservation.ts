import type { IncomingHttpHeaders } from 'node:http';
import { errors, ProxyError } from '../fold/errors.js';
import type { Upstream } from '../upstream/upstream.js';
import type { UpstreamGroup } from '../upstream/upstream-group.js';
import type { UpstreamCapacity } from '../upstream/upstream-specs.js';
import type { CapacityStore } from './capacity-store.js';
import { type LearnedLimits, parseRateLimitHeaders } from './rate-limit-headers.js';

/** Whether a group is scheduled by capacity: some member has a limit configured. */
export function hasCapacityLimits(group: UpstreamGroup): boolean {
  return group.members.some((member) => member.spec.capacity !== undefined);
}

export type GroupReservation = { upstream: Upstream; lease: string } | { waitMs: number };

/**
 * Reserves one of `members` for a call costing `tokens`: they are offered in the order the random
 * pick would try them (by weight, healthy ones first), and the store takes the first with room.
 */
export async function reserveInGroup(
  store: CapacityStore,
  members: readonly Upstream[],
  tokens: number,
  lease: string,
  leaseMs: number,
  /** The part of each limit this work may use (1: all of it); see CAPACITY_INTERACTIVE_SHARE. */
  share = 1,
  random: () => number = Math.random,
): Promise<GroupReservation> {
  const ordered = inPickOrder(members, random);
  const reservation = await store
    .reserve(
      ordered.map(({ label, spec }) => ({ label, capacity: scaled(spec.capacity, share) })),
      tokens,
      lease,
      leaseMs,
    )
    .catch(() => {
      // Redis away for a moment: no limit can be checked, which is no bug of ours (not a 500).
      // The reason names Redis's address: it stays out of the answer.
      throw errors.unavailable(
        'The capacity store (Redis) is unavailable; try again shortly.',
        'queue_unavailable',
        2,
      );
    });
  if (!reservation.granted) return { waitMs: reservation.waitMs };
  return { upstream: ordered[reservation.member] as Upstream, lease };
}

/**
 * What an answer's headers say of its upstream's room; a 429 that says nothing keeps the upstream
 * out until its health's back-off ends, as an unscheduled call would.
 */
export function limitsLearnt(
  status: number,
  headers: IncomingHttpHeaders | Record<string, string>,
  upstream: Upstream,
  nowMs = Date.now(),
): LearnedLimits {
  const limits = parseRateLimitHeaders(headers, nowMs);
  if (status === 429 && limits.retryAtMs === undefined && limits.requests === undefined)
    return { ...limits, retryAtMs: Math.max(upstream.health.recoversAt, nowMs + 1) };
  return limits;
}

/** Every upstream of the group is at a limit for longer than the request may wait. */
export function capacityExhausted(waitMs: number): ProxyError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new ProxyError(
    'rate_limit_exceeded',
    `Every upstream for this model is at its rate limit for about ${seconds} s more, longer than this request may wait; try again then.`,
    { retryAfterSeconds: seconds },
  );
}

/** A limit cut to `share` of itself, never below 1 (0 would mean "no limit" to the store). */
function scaled(capacity: UpstreamCapacity | undefined, share: number): UpstreamCapacity | undefined {
  if (capacity === undefined || share >= 1) return capacity;
  const part = (limit: number | undefined) =>
    limit === undefined ? undefined : Math.max(1, Math.floor(limit * share));
  const cut = {
    maxConcurrency: part(capacity.maxConcurrency),
    rpm: part(capacity.rpm),
    tpm: part(capacity.tpm),
  };
  return Object.fromEntries(Object.entries(cut).filter(([, limit]) => limit !== undefined));
}

function inPickOrder(members: readonly Upstream[], random: () => number): Upstream[] {
  const now = Date.now();
  const keyed = members.map((member) => ({
    member,
    // Efraimidis–Spirakis: sorting by u^(1/w) draws a weighted order without replacement.
    key: (member.health.isHealthy(now) ? 1 : 0) + random() ** (1 / member.weight),
  }));
  return keyed.sort((a, b) => b.key - a.key).map(({ member }) => member);
}

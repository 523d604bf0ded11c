import type { Upstream } from '@openai-proxy/shared';
import type { RouteHandler } from '../pipeline/request-door.js';
import type { RouteDeps } from './route-deps.js';

/** Probes and scrapes: answered before any limit, and not counted as traffic in the stats line. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

/**
 * `GET /health`: liveness — the process answers, always 200. `status` says `degraded` when Redis
 * is away; `upstreams` counts those cooling down, which is news for an operator, not a reason to
 * restart or unlist this process.
 */
export function health(deps: RouteDeps): RouteHandler {
  return (_req, res) => {
    res.json({
      status: (deps.completer.queueHealth?.isReady() ?? true) ? 'ok' : 'degraded',
      pid: process.pid,
      mode: deps.completer.mode,
      upstreams: upstreamCounts(deps.relay.upstreams.all, Date.now()),
    });
  };
}

/** How many upstreams are configured, and how many of them are out of the pick right now. */
function upstreamCounts(all: readonly Upstream[], nowMs: number) {
  const healthy = all.filter((upstream) => upstream.health.isHealthy(nowMs)).length;
  return { total: all.length, healthy, coolingDown: all.length - healthy };
}

/**
 * `GET /ready`: readiness — 200 when this process can serve: Redis reachable (queue mode) and,
 * where the gateway watches for them, workers alive. A standalone gateway has neither to check. Upstreams are left out on purpose: they are
 * shared by every replica, so a provider's bad minute would unlist all of them at once and turn
 * a partial failure (streams, other models, a quick recovery) into a total outage.
 */
export function ready(deps: RouteDeps): RouteHandler {
  return (_req, res) => {
    const health = deps.completer.queueHealth;
    const queue = health?.isReady() ?? true;
    const watched = health?.liveWorkers() !== undefined;
    const workers = !(health?.workersMissing() ?? false);
    const ready = queue && workers;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not_ready',
      mode: deps.completer.mode,
      checks: {
        ...(health === undefined ? {} : { queue: queue ? 'ok' : 'unavailable' }),
        ...(watched ? { workers: workers ? 'ok' : 'no_workers' } : {}),
      },
    });
  };
}

/**
 * Each upstream's calls and room as the capacity store holds them (queue mode), at scrape time;
 * emptied when the store cannot be read, like the queue's depth.
 */
async function sampleUpstreamRoom(deps: RouteDeps): Promise<void> {
  const { upstreamCallsInFlight, upstreamCallsLastMinute, upstreamRoom } = deps.metrics;
  for (const gauge of [upstreamCallsInFlight, upstreamCallsLastMinute, upstreamRoom]) gauge.reset();
  const store = deps.relay.capacity?.store;
  if (store === undefined || !store.isReady()) return;
  const upstreams = deps.relay.upstreams.all;
  // Sent together on the one connection, not one upstream after another.
  const snapshots = await Promise.all(upstreams.map((upstream) => store.snapshot(upstream.label))).catch(
    () => undefined,
  );
  if (snapshots === undefined) return;
  for (const [index, upstream] of upstreams.entries()) {
    const held = snapshots[index];
    if (held === undefined) continue;
    const labels = { upstream: upstream.label };
    upstreamCallsInFlight.set(labels, held.inFlight);
    upstreamCallsLastMinute.set(labels, held.callsLastMinute);
    const limits = upstream.spec.capacity;
    const room = (limit: string, value: number) => upstreamRoom.set({ ...labels, limit }, Math.max(0, value));
    if (limits?.maxConcurrency !== undefined) room('concurrency', limits.maxConcurrency - held.inFlight);
    if (limits?.rpm !== undefined) room('rpm', limits.rpm - held.callsLastMinute);
    if (limits?.tpm !== undefined) room('tpm', limits.tpm - held.tokensLastMinute);
    if (held.requestsLeft !== null) room('requests_left', held.requestsLeft.remaining);
    if (held.tokensLeft !== null) room('tokens_left', held.tokensLeft.remaining);
  }
}

/**
 * `GET /metrics`: Prometheus text. The queue-depth gauge is sampled here, at scrape time; when
 * the queue cannot be read (standalone mode, Redis away) the gauge is emptied rather than left
 * at its last value, so a dashboard shows a gap instead of a stale depth.
 */
export function metrics(deps: RouteDeps): RouteHandler {
  return async (_req, res) => {
    const health = deps.completer.queueHealth;
    const counts = (await health?.sampleQueue().catch(() => undefined)) ?? {};
    deps.metrics.queueJobs.reset();
    for (const [state, count] of Object.entries(counts)) deps.metrics.queueJobs.set({ state }, count);
    const liveWorkers = health?.liveWorkers();
    if (liveWorkers === undefined) deps.metrics.workersAlive.reset();
    else deps.metrics.workersAlive.set(liveWorkers);
    await sampleUpstreamRoom(deps);
    const background = await deps.completer.background?.counts().catch(() => undefined);
    deps.metrics.backgroundResponses.reset();
    for (const [status, count] of Object.entries(background ?? {}))
      deps.metrics.backgroundResponses.set({ status }, count);
    const batches = await deps.completer.batches?.batches.counts().catch(() => undefined);
    deps.metrics.batches.reset();
    for (const [status, count] of Object.entries(batches ?? {})) deps.metrics.batches.set({ status }, count);
    res.setHeader('cache-control', 'no-store');
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  };
}

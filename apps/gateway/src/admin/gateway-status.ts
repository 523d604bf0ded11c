import { createRequire } from 'node:module';
import { connectionUse, type Upstream, type UpstreamSet } from '@openai-proxy/shared';
import type { CapacityStore } from '@openai-proxy/shared/redis';
import type { NonStreamCompleter } from '../completion/non-stream-completer.js';
import type { GatewayConfig } from '../config.js';
import type { RouteHandler } from '../pipeline/request-door.js';

/** The gateway package's own version (apps/gateway/package.json, beside both src/ and dist/). */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
const STARTED_AT = new Date(Date.now() - process.uptime() * 1000);

export interface StatusSources {
  config: GatewayConfig;
  completer: NonStreamCompleter;
  upstreams: UpstreamSet;
  /** Requests this process holds now (probes and admin routes aside), as MAX_INFLIGHT counts them. */
  inFlight(): number;
  /** Queue mode: the ids of the live worker processes. */
  liveWorkers?: (() => Promise<string[]>) | undefined;
  /** Queue mode: each upstream's room (limits, calls held, what its headers said last). */
  capacity?: CapacityStore | undefined;
}

/**
 * `GET /admin/status`: one look at this gateway process, for an operator whose clients see
 * errors: is Redis there, which upstreams are cooling down and for how long, are workers
 * alive, how deep is the queue, how busy is this process, and which limits it applies.
 * It names upstreams by their label (the host), never by URL, and holds no key.
 */
export function gatewayStatus(sources: StatusSources): RouteHandler {
  const { config, completer, upstreams } = sources;
  return async (_req, res) => {
    const now = Date.now();
    const health = completer.queueHealth;
    const queueMode = health !== undefined;
    const [queue, workerIds, rooms, background, batches] = await Promise.all([
      health?.sampleQueue().catch(() => ({})),
      sources.liveWorkers?.().catch(() => undefined),
      Promise.all(upstreams.all.map((upstream) => capacityOf(upstream, sources.capacity, now))),
      completer.background?.counts().catch(() => undefined),
      batchProgress(completer),
    ]);
    const redisReady = health?.isReady() ?? false;
    res.json({
      mode: completer.mode,
      version: VERSION,
      node: process.version,
      pid: process.pid,
      startedAt: STARTED_AT.toISOString(),
      uptimeSeconds: Math.round(process.uptime()),
      redis: queueMode ? (redisReady ? 'ok' : 'unavailable') : 'not_used',
      upstreams: upstreams.all.map((upstream, index) => ({
        label: upstream.label,
        healthy: upstream.health.isHealthy(now),
        consecutiveFailures: upstream.health.failures,
        coolingDownForMs: Math.max(0, upstream.health.recoversAt - now),
        capacity: rooms[index] ?? null,
        // This process's connections to it; `queued`: requests waiting for one (UPSTREAM_CONNECTIONS all held).
        connections: connectionUse(upstream),
      })),
      workers: queueMode
        ? {
            alive: workerIds?.length ?? null,
            ids: workerIds ?? null,
            refusingNewJobs: health?.workersMissing() ?? false,
          }
        : null,
      queue: queueMode ? (redisReady && queue !== undefined ? queue : null) : null,
      // Background responses of the whole deployment: running now; created and ended by status.
      background: background ?? null,
      // Batches of the whole deployment: counts, and the progress of those not yet ended.
      batches: batches ?? null,
      inFlight: sources.inFlight(),
      limits: limitsInForce(config),
    });
  };
}

/**
 * An upstream's room as every worker and gateway sees it: its configured limits and what the
 * store holds now. Null where nothing is kept (standalone mode, or Redis away).
 */
async function capacityOf(upstream: Upstream, store: CapacityStore | undefined, now: number) {
  if (store === undefined || !store.isReady()) return null;
  const held = await store.snapshot(upstream.label, now).catch(() => undefined);
  return held === undefined ? null : { limits: upstream.spec.capacity ?? null, ...held };
}

/** The settings that decide when a request is refused, cut short or slowed. */
function limitsInForce(config: GatewayConfig) {
  return {
    maxInflight: config.MAX_INFLIGHT,
    maxQueueDepth: config.MAX_QUEUE_DEPTH,
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxJsonDepth: config.MAX_JSON_DEPTH,
    rateLimit:
      config.RATE_LIMIT_REQUESTS > 0
        ? { requests: config.RATE_LIMIT_REQUESTS, windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS }
        : null,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    noWorkersRefuseAfterMs: config.NO_WORKERS_REFUSE_AFTER_MS,
    keyMaxQueued: config.KEY_MAX_QUEUED,
    streamCapacityWaitMs: config.STREAM_CAPACITY_WAIT_MS,
    upstreamMaxTries: config.UPSTREAM_MAX_TRIES,
    upstreamTimeoutsMs: {
      connect: config.UPSTREAM_CONNECT_TIMEOUT_MS,
      firstByte: config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
      idle: config.UPSTREAM_IDLE_TIMEOUT_MS,
      total: config.UPSTREAM_TOTAL_TIMEOUT_MS,
    },
    gatewayKeysRequired: config.GATEWAY_API_KEYS.length > 0,
    queueActions: config.ADMIN_QUEUE_ACTIONS,
    showContent: config.ADMIN_SHOW_CONTENT,
  };
}

/** The deployment's batches: how many ended how, and each running one's progress (the oldest 20). */
async function batchProgress(completer: NonStreamCompleter) {
  const store = completer.batches?.batches;
  if (store === undefined) return undefined;
  try {
    const [counts, active] = await Promise.all([store.counts(), store.active(20)]);
    return {
      counts,
      active: active.map(({ id, status, endpoint, created_at, request_counts }) => ({
        id,
        status,
        endpoint,
        created_at,
        request_counts,
      })),
    };
  } catch {
    return undefined;
  }
}

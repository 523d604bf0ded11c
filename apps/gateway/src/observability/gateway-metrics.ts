import {
  type AnswerTokens,
  collectRuntimeMetrics,
  DURATION_BUCKETS,
  tokenCounter,
} from '@openai-proxy/shared';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The gateway's metrics, on a registry passed in (never prom-client's global one, so tests and
 * several servers in one process do not collide). Labels are bounded: routes are templates,
 * upstreams come from configuration, models from upstream answers; never ids or keys.
 */

export interface GatewayMetrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  inFlight: Gauge;
  upstreamRequests: Counter<'upstream' | 'outcome'>;
  upstreamFirstByte: Histogram<'upstream'>;
  routedRequests: Counter<'group' | 'status'>;
  queueWait: Histogram;
  queuedRequestDuration: Histogram<'status'>;
  tokens: Counter<'model' | 'type'>;
  rejected: Counter<'reason'>;
  queueJobs: Gauge<'state'>;
  workersAlive: Gauge;
  upstreamCallsInFlight: Gauge<'upstream'>;
  upstreamCallsLastMinute: Gauge<'upstream'>;
  upstreamRoom: Gauge<'upstream' | 'limit'>;
  /** Background responses this gateway created. */
  backgroundCreated: Counter;
  /** Background responses this gateway cancelled (those that had not ended). */
  backgroundCancelled: Counter;
  /** Streams of background responses' events this gateway serves now. */
  backgroundStreams: Gauge;
  /** Background responses of the deployment, sampled at scrape time: `running`, and `created` and each final status since Redis was new. */
  backgroundResponses: Gauge<'status'>;
  /** Batches of the deployment, sampled at scrape time: `active`, and `created` and each final status. */
  batches: Gauge<'status'>;
  /** Adds a non-stream answer's usage to `tokens`, with the model label capped (token-counter.ts). */
  countTokens(answer: AnswerTokens): void;
}

export function createGatewayMetrics(
  registry: Registry,
  options: { defaultMetrics?: boolean } = {},
): GatewayMetrics {
  if (options.defaultMetrics ?? true) collectRuntimeMetrics(registry);
  const registers = [registry];
  const tokens = new Counter({
    name: 'openai_proxy_tokens_total',
    help: 'Tokens reported by upstream usage in non-stream answers, by model and type (prompt, completion).',
    labelNames: ['model', 'type'] as const,
    registers,
  });
  return {
    registry,
    httpRequests: new Counter({
      name: 'openai_proxy_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status (`aborted`: the client left first).',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'openai_proxy_http_request_duration_seconds',
      help: 'Time from request to the end of the response, by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    inFlight: new Gauge({
      name: 'openai_proxy_http_requests_in_flight',
      help: 'Requests being handled right now.',
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'openai_proxy_upstream_requests_total',
      help: 'Calls to upstreams by upstream and outcome (success, client_error, server_error, rate_limited, network_error, timeout).',
      labelNames: ['upstream', 'outcome'],
      registers,
    }),
    upstreamFirstByte: new Histogram({
      name: 'openai_proxy_upstream_first_byte_seconds',
      help: 'Time until an upstream answered with its status line.',
      labelNames: ['upstream'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    routedRequests: new Counter({
      name: 'openai_proxy_routed_requests_total',
      help: 'Requests routed by model, by the group of upstreams serving it (`all`, or its upstreams joined by +) and status.',
      labelNames: ['group', 'status'],
      registers,
    }),
    queueWait: new Histogram({
      name: 'openai_proxy_queue_wait_seconds',
      help: 'Time a non-stream job waited in the queue before a worker took it.',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    queuedRequestDuration: new Histogram({
      name: 'openai_proxy_queued_request_duration_seconds',
      help: 'End-to-end time of non-stream requests sent through the queue, by status (`aborted`: the client left).',
      labelNames: ['status'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    tokens,
    rejected: new Counter({
      name: 'openai_proxy_rejected_requests_total',
      help: 'Requests refused before reaching an upstream, by reason (rate limits, overload, invalid requests).',
      labelNames: ['reason'],
      registers,
    }),
    queueJobs: new Gauge({
      name: 'openai_proxy_queue_jobs',
      help: 'Jobs in the queue by state (waiting, prioritized, active, delayed, failed), sampled at scrape time.',
      labelNames: ['state'],
      registers,
    }),
    backgroundCreated: new Counter({
      name: 'openai_proxy_background_created_total',
      help: 'Background responses (POST /v1/responses with background: true) this gateway created.',
      registers,
    }),
    backgroundCancelled: new Counter({
      name: 'openai_proxy_background_cancelled_total',
      help: 'Background responses this gateway cancelled before they ended.',
      registers,
    }),
    backgroundStreams: new Gauge({
      name: 'openai_proxy_background_streams',
      help: "Streams of background responses' events this gateway serves now.",
      registers,
    }),
    backgroundResponses: new Gauge({
      name: 'openai_proxy_background_responses',
      help: 'Background responses kept in Redis: running now, and created and ended by final status (counts kept in Redis), sampled at scrape time.',
      labelNames: ['status'],
      registers,
    }),
    batches: new Gauge({
      name: 'openai_proxy_batches',
      help: 'Batches kept in Redis: active now, and created and ended by final status (counts kept in Redis), sampled at scrape time.',
      labelNames: ['status'],
      registers,
    }),
    workersAlive: new Gauge({
      name: 'openai_proxy_workers_alive',
      help: 'Worker processes whose heartbeat this gateway saw in the last 6 s (queue mode), sampled at scrape time.',
      registers,
    }),
    upstreamCallsInFlight: new Gauge({
      name: 'openai_proxy_upstream_calls_in_flight',
      help: 'Queue mode: calls each upstream holds now, as every gateway and worker reserved them in Redis; sampled at scrape time.',
      labelNames: ['upstream'],
      registers,
    }),
    upstreamCallsLastMinute: new Gauge({
      name: 'openai_proxy_upstream_calls_last_minute',
      help: 'Queue mode: scheduled calls each upstream began in the last minute; sampled at scrape time.',
      labelNames: ['upstream'],
      registers,
    }),
    upstreamRoom: new Gauge({
      name: 'openai_proxy_upstream_room',
      help: "Queue mode: what is left of each limited upstream's limits now (concurrency, rpm, tpm; requests_left and tokens_left as its headers said last); sampled at scrape time.",
      labelNames: ['upstream', 'limit'],
      registers,
    }),
    countTokens: tokenCounter(tokens),
  };
}

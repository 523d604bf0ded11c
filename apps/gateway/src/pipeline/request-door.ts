import { randomUUID } from 'node:crypto';
import { type ErrorDialect, errors, type Logger, openAIErrorDialect } from '@openai-proxy/shared';
import type { NextFunction, Request, Response } from 'express';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import { requestMetrics } from '../observability/request-metrics.js';
import { PROBE_ROUTES } from '../routes/probe-routes.js';
import { RequestContext, type RouteLabel } from './request-context.js';
import { sendError } from './send-error.js';

/** One step of a route: it answers, or throws an error that `sendError` turns into one. */
export type RouteHandler = (req: Request, res: Response, ctx: RequestContext) => Promise<void> | void;

export interface DoorOptions {
  logger: Logger;
  metrics: GatewayMetrics;
  mode: 'queue' | 'standalone';
  /** Requests (probes aside) this process holds at once; past it, 503 with Retry-After. */
  maxInflight: number;
}

const SAFE_ID = /^[\w.:-]{1,128}$/;

/**
 * Where every request comes in and goes out. `route()` wraps a route's handler: it makes the
 * request's context (id, echoed as `x-request-id`, and as `request-id` on an Anthropic route),
 * admits it against the in-flight limit, runs the handler and turns whatever it throws into an
 * answer. One `close` listener ends the request: in-flight count, metrics, the log line (at debug
 * for probes) and the client-gone signal.
 */
export function createDoor(options: DoorOptions) {
  const { logger, metrics, mode, maxInflight } = options;
  const observe = requestMetrics(metrics);
  // Groups and statuses are bounded (see RoutingTable): each series is looked up once.
  const routed = new Map<string, ReturnType<GatewayMetrics['routedRequests']['labels']>>();
  const countRouted = (group: string, status: string) => {
    const key = `${group} ${status}`;
    let series = routed.get(key);
    if (series === undefined) {
      series = metrics.routedRequests.labels({ group, status });
      routed.set(key, series);
    }
    series.inc();
  };
  let inflight = 0;

  const end = (req: Request, res: Response, ctx: RequestContext, counted: boolean) => {
    metrics.inFlight.dec();
    if (counted) inflight -= 1;
    const completed = res.writableFinished;
    ctx.ended(completed);
    const seconds = (performance.now() - ctx.startedAt) / 1000;
    const status = completed ? String(res.statusCode) : 'aborted';
    const answerStatus = completed && ctx.answerStatus !== undefined ? String(ctx.answerStatus) : status;
    observe(ctx.route, req.method, status, seconds);
    if (ctx.queueWaitMs !== undefined) metrics.queueWait.observe(ctx.queueWaitMs / 1000);
    if (ctx.queued) metrics.queuedRequestDuration.observe({ status: answerStatus }, seconds);
    if (ctx.group !== null) countRouted(ctx.group, status);
    // The whole path: under a mount (`/v1`, `/admin/queues`) Express leaves `req.url` without it.
    const target = req.originalUrl;
    const query = target.indexOf('?');
    // A probe comes every few seconds from every balancer and scraper: at info it would bury the
    // traffic. Debug keeps it one setting away.
    const level = PROBE_ROUTES.has(ctx.route) ? 'debug' : 'info';
    logger[level](
      {
        requestId: ctx.id,
        method: req.method,
        path: query < 0 ? target : target.slice(0, query),
        status,
        ...(answerStatus === status ? {} : { answerStatus }),
        durationMs: Math.round(seconds * 1000),
        mode,
        upstream: ctx.upstream ?? undefined,
        group: ctx.group ?? undefined,
        queueWaitMs: ctx.queueWaitMs,
      },
      'request',
    );
  };

  return {
    /** Requests held now against MAX_INFLIGHT (probes aside). */
    inflight: (): number => inflight,
    /**
     * The Express handler of one route; `counted` routes count against the in-flight limit. Its
     * errors, the door's own refusals included, take `dialect`'s shape.
     */
    route(
      label: RouteLabel,
      counted: boolean,
      handler: RouteHandler,
      dialect: ErrorDialect = openAIErrorDialect,
    ) {
      return (req: Request, res: Response, _next: NextFunction): void => {
        const offered = req.headers['x-request-id'];
        const id = typeof offered === 'string' && SAFE_ID.test(offered) ? offered : randomUUID();
        res.setHeader('x-request-id', id);
        // Some dialects name every answer's request in a header of their own (Anthropic's SDKs read `request-id`).
        if (dialect.requestIdHeader !== undefined) res.setHeader(dialect.requestIdHeader, id);
        const ctx = new RequestContext(id, label, dialect);
        const admitted = !counted || inflight < maxInflight;
        const holds = counted && admitted;
        metrics.inFlight.inc();
        if (holds) inflight += 1;
        res.once('close', () => end(req, res, ctx, holds));
        const fail = (error: unknown) => sendError(req, res, ctx, error, options);
        if (!admitted) {
          fail(
            errors.unavailable(
              `The gateway is at its limit of ${maxInflight} requests in flight.`,
              'gateway_overloaded',
              1,
            ),
          );
          return;
        }
        try {
          const running = handler(req, res, ctx);
          if (running !== undefined) running.catch(fail);
        } catch (error) {
          fail(error);
        }
      };
    },
  };
}

export type Door = ReturnType<typeof createDoor>;

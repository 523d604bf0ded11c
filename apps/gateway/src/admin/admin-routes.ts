import { ProxyError, type UpstreamSet } from '@openai-proxy/shared';
import type { CapacityStore } from '@openai-proxy/shared/redis';
import type { Express } from 'express';
import type { NonStreamCompleter } from '../completion/non-stream-completer.js';
import type { GatewayConfig } from '../config.js';
import type { Door, RouteHandler } from '../pipeline/request-door.js';
import { notFound } from '../routes/passthrough-route.js';
import { adminAccess } from './admin-access.js';
import { gatewayStatus } from './gateway-status.js';
import type { QueueBoard } from './queue-board.js';

export interface AdminDeps {
  config: GatewayConfig;
  completer: NonStreamCompleter;
  upstreams: UpstreamSet;
  /** Queue mode: bull-board and the worker list; absent in standalone mode, which has no queue. */
  board?: QueueBoard | undefined;
  /** Queue mode: each upstream's room, as the workers and gateways share it. */
  capacity?: CapacityStore | undefined;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * The dashboard may load from this gateway only, whatever a bull-board upgrade adds to its page:
 * the browser refuses any other host (its page uses inline styles, and its scripts may build
 * code, so those stay allowed). Nor may another site frame it: it holds an admin login.
 */
const BOARD_CONTENT_SECURITY_POLICY =
  "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/**
 * `/admin/status` and `/admin/queues`, behind ADMIN_API_KEYS. Called by the route table after
 * every other route: nothing here runs for a `/v1` request. Neither counts against MAX_INFLIGHT,
 * so an operator can look at a gateway that refuses traffic.
 */
export function addAdminRoutes(app: Express, door: Door, deps: AdminDeps): void {
  const access = adminAccess(deps.config.ADMIN_API_KEYS);
  const status = gatewayStatus({
    config: deps.config,
    completer: deps.completer,
    upstreams: deps.upstreams,
    inFlight: door.inflight,
    liveWorkers: deps.board?.liveWorkers,
    capacity: deps.capacity,
  });
  app.get(
    '/admin/status',
    door.route('/admin/status', false, (req, res, ctx) => {
      access(req, res);
      return status(req, res, ctx);
    }),
  );
  app.use('/admin/queues', door.route('/admin/queues', false, queueBoardRoute(deps, access)));
}

function queueBoardRoute(deps: AdminDeps, access: ReturnType<typeof adminAccess>): RouteHandler {
  const { board } = deps;
  const actions = deps.config.ADMIN_QUEUE_ACTIONS;
  return (req, res) => {
    access(req, res);
    if (board === undefined)
      throw new ProxyError(
        'not_found',
        'There is no queue in standalone mode (no Redis is configured); /admin/status shows this gateway.',
      );
    // bull-board refuses changes to a read-only queue itself; this holds for every route it has.
    if (!actions && !READ_METHODS.has(req.method))
      throw new ProxyError(
        'queue_read_only',
        'The queue dashboard is read-only (ADMIN_QUEUE_ACTIONS=false).',
      );
    res.setHeader('content-security-policy', BOARD_CONTENT_SECURITY_POLICY);
    return new Promise<void>((resolve, reject) => {
      res.once('close', () => resolve());
      board.handle(req, res, (error) => reject(error ?? notFound(req.method, req.originalUrl)));
    });
  };
}

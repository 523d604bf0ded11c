import { createBullBoard } from '@bull-board/api';
import { ExpressAdapter } from '@bull-board/express';
import { type Logger, queueNames, type RedisTopology } from '@openai-proxy/shared';
import { createRedis, liveWorkerIds } from '@openai-proxy/shared/redis';
import { Queue } from 'bullmq';
import type { Request, Response } from 'express';
import type { GatewayConfig } from '../config.js';
import { BoardQueueAdapter } from './board-queue-adapter.js';
import { jobDataForBoard } from './job-view.js';
import { renderBoardOffline, type ViewRenderingApp } from './offline-board-page.js';

export const QUEUE_BOARD_PATH = '/admin/queues';

/** bull-board on the job queue, and what /admin/status reads from Redis beside it. */
export interface QueueBoard {
  /** bull-board's Express app, to be called under QUEUE_BOARD_PATH. */
  handle(req: Request, res: Response, next: (error?: unknown) => void): void;
  /** The ids of the worker processes alive now (see worker-presence.ts). */
  liveWorkers(): Promise<string[]>;
  close(): Promise<void>;
}

type BoardSettings = Pick<GatewayConfig, 'QUEUE_PREFIX' | 'ADMIN_QUEUE_ACTIONS' | 'ADMIN_SHOW_CONTENT'> & {
  redis: RedisTopology;
};

/**
 * bull-board (`@bull-board/api`, its BullMQ adapter and `@bull-board/express`) on a connection
 * of its own, so a dashboard left open never queues behind, or slows, the completion path's
 * Redis traffic. Read-only unless ADMIN_QUEUE_ACTIONS; job data goes through `jobDataForBoard`,
 * failures lose the server's directories (`BoardQueueAdapter`), and the page loads nothing from
 * another host (`renderBoardOffline`).
 */
export function createQueueBoard(settings: BoardSettings, logger: Logger): QueueBoard {
  const names = queueNames(settings.QUEUE_PREFIX);
  const connection = createRedis(settings.redis, 'queue', `gateway-admin:${process.pid}`);
  connection.on('error', (error) => logger.warn({ err: error }, 'redis (admin) error'));
  const queue = new Queue(names.queue, { connection, prefix: names.prefix });
  queue.on('error', (error) => logger.warn({ err: error }, 'admin queue error'));
  const actions = settings.ADMIN_QUEUE_ACTIONS;
  const adapter = new BoardQueueAdapter(queue, {
    readOnlyMode: !actions,
    allowRetries: actions,
    displayName: 'completions',
    description: 'Non-stream requests waiting for, or held by, a worker.',
  });
  adapter.setFormatter('data', (data: unknown) => jobDataForBoard(data, settings.ADMIN_SHOW_CONTENT));
  const server = new ExpressAdapter();
  server.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [adapter],
    serverAdapter: server,
    options: {
      uiConfig: {
        boardTitle: 'openai-proxy',
        hideDocsLink: true,
        miscLinks: [{ text: 'Gateway status (JSON)', url: '/admin/status' }],
      },
    },
  });
  const app = server.getRouter() as ViewRenderingApp & {
    (req: Request, res: Response, next: (error?: unknown) => void): void;
    disable(setting: string): void;
  };
  app.disable('x-powered-by');
  renderBoardOffline(app);
  const alive = liveWorkerIds(connection, names);
  let closing: Promise<void> | undefined;
  return {
    handle: (req, res, next) => app(req, res, next),
    liveWorkers: () => alive(),
    close() {
      closing ??= (async () => {
        await queue.close().catch(() => undefined);
        connection.disconnect();
      })();
      return closing;
    },
  };
}

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { BehaviorQueue } from './behavior-queue.js';
import type { CompletionKind } from './completion-request.js';
import { createRateLimitPolicy } from './rate-limit.js';
import { RequestLog } from './request-log.js';
import { handleRequest } from './routes.js';
import type { MockBehavior, MockUpstream, MockUpstreamOptions } from './types.js';

/** Each API's id style: `chatcmpl-…`, `cmpl-…`, `resp_…`, `msg_…`. */
const ID_PREFIX: Record<CompletionKind, string> = {
  chat: 'chatcmpl-mock-',
  legacy: 'cmpl-mock-',
  responses: 'resp_mock_',
  messages: 'msg_mock_',
};

function baseUrl(address: AddressInfo): string {
  const { family, port } = address;
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return family === 'IPv6' || host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/** Starts a streaming-only fake OpenAI-compatible provider; port 0 (the default) picks a free port. */
export async function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  // Checked first, so a bad option throws before a port is taken. Windows count from here.
  const rateLimit = options.rateLimit && createRateLimitPolicy(options.rateLimit, Date.now());
  const log = new RequestLog();
  const behaviors = new BehaviorQueue(options.defaultBehavior ?? { kind: 'echo' });
  const name = options.name ?? 'mock';
  const sockets = new Set<Socket>();
  let counter = 0;
  let closing: Promise<void> | undefined;

  const deps = {
    log,
    name,
    nextBehavior: () => behaviors.next(),
    nextId: (kind: CompletionKind) => `${ID_PREFIX[kind]}${++counter}`,
    isClosing: () => closing !== undefined,
    rateLimit,
  };
  const server = createServer((req, res) => {
    void handleRequest(req, res, deps);
  });
  server.requestTimeout = 0;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  // A deep accept queue (the kernel caps it at net.core.somaxconn): thousands of streams opened at
  // once must not wait out TCP's SYN retries, or the bench's floor would measure them.
  server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1', backlog: 65_535 });
  await once(server, 'listening');
  const url = baseUrl(server.address() as AddressInfo);

  return {
    url,
    chatUrl: `${url}/v1/chat/completions`,
    name,
    stats: log.stats,
    requests: log.requests,
    setDefault(behavior: MockBehavior): void {
      behaviors.setDefault(behavior);
    },
    enqueue(...queued: MockBehavior[]): void {
      behaviors.enqueue(queued);
    },
    waitForRequests(n: number, timeoutMs?: number): Promise<void> {
      return log.waitFor('requests', n, timeoutMs);
    },
    waitForAborted(n: number, timeoutMs?: number): Promise<void> {
      return log.waitFor('aborted', n, timeoutMs);
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        log.rejectAll(new Error('mock upstream closed'));
      });
      return closing;
    },
  };
}

import { createServer, type Server } from 'node:http';
import type { Logger } from '@openai-proxy/shared';
import { AggregatorRegistry } from 'prom-client';

/**
 * The cluster primary's HTTP endpoint: `/metrics` sums every child's registry (prom-client's
 * AggregatorRegistry asks each child over IPC), `/health` says the primary is alive. Resolves once
 * it listens; rejects with the listen error (a taken port, say) so the caller can say so plainly.
 */
export function startMetricsServer(port: number, host: string, logger: Logger): Promise<Server> {
  const aggregator = new AggregatorRegistry();
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      aggregator
        .clusterMetrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': aggregator.contentType });
          res.end(text);
        })
        .catch((error: unknown) => {
          logger.warn({ err: error }, 'could not collect child metrics');
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('metrics unavailable\n');
        });
      return;
    }
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', pid: process.pid, role: 'worker-primary' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: { message: 'Not found', type: 'invalid_request_error', param: null, code: 'not_found' },
      }),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // Later errors (a failed accept, say) must not end the primary and with it every child.
      server.on('error', (error) => logger.warn({ err: error }, 'worker metrics server error'));
      logger.info({ port }, 'worker metrics listening');
      resolve(server);
    });
  });
}

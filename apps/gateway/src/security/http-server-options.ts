import type { ServerOptions } from 'node:http';
import type { GatewayConfig } from '../config.js';

/** Node checks head and request timeouts on a timer; it must run often enough for short ones. */
const MAX_CHECK_INTERVAL_MS = 30_000;

/**
 * Limits Node's HTTP server enforces before Express sees a request: the size of the request
 * head (431 past it) and the time a client may take to send its head and its whole request
 * (408, then the connection closes), so slow-loris clients cannot hold sockets open.
 * The request timeout covers receiving the request only, never a long streamed answer.
 */
export function httpServerOptions(
  config: Pick<GatewayConfig, 'MAX_HEADER_BYTES' | 'CLIENT_HEADERS_TIMEOUT_MS' | 'CLIENT_REQUEST_TIMEOUT_MS'>,
): ServerOptions {
  const requestTimeout = config.CLIENT_REQUEST_TIMEOUT_MS;
  // Node refuses a head timeout longer than a (non-zero) request timeout.
  const headersTimeout =
    requestTimeout > 0
      ? Math.min(config.CLIENT_HEADERS_TIMEOUT_MS, requestTimeout)
      : config.CLIENT_HEADERS_TIMEOUT_MS;
  const shortest = requestTimeout > 0 ? Math.min(headersTimeout, requestTimeout) : headersTimeout;
  return {
    maxHeaderSize: config.MAX_HEADER_BYTES,
    headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: Math.max(1, Math.min(MAX_CHECK_INTERVAL_MS, Math.ceil(shortest / 4))),
    // Longer than the usual 60 s idle timeout of load balancers, so they close first.
    keepAliveTimeout: 65_000,
  };
}

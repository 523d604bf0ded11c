import type { IncomingHttpHeaders } from 'node:http';

/**
 * How long a non-stream request may take: REQUEST_TIMEOUT_MS, or less when the client says it
 * will wait less. OpenAI's and Anthropic's SDKs send their timeout as `X-Stainless-Timeout`
 * (seconds). Honouring it matters most with NONSTREAM_KEEPALIVE_MS on: the early 200 ends the
 * SDK's own timer, so only the proxy can still end the request in time.
 */
export function requestTimeoutMs(headers: IncomingHttpHeaders, maxMs: number): number {
  const offered = headers['x-stainless-timeout'];
  if (typeof offered !== 'string') return maxMs;
  const seconds = Number(offered);
  if (!Number.isFinite(seconds) || seconds <= 0) return maxMs;
  return Math.min(maxMs, Math.max(1_000, Math.round(seconds) * 1_000));
}

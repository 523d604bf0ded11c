import type { IncomingHttpHeaders } from 'node:http';
import { type Answer, clientDeadlineError, type ErrorDialect, isProxyError } from '@openai-proxy/shared';

/** A non-stream request's deadline, from now, and whose setting it is. */
export interface RequestDeadline {
  ms: number;
  /** `client`: the client's own timeout, shorter than REQUEST_TIMEOUT_MS, is the one that ends it. */
  setBy: 'proxy' | 'client';
}

/**
 * How long a non-stream request may take: REQUEST_TIMEOUT_MS, or less when the client says it
 * will wait less. OpenAI's and Anthropic's SDKs send their timeout as `X-Stainless-Timeout`
 * (seconds). Honouring it matters most with NONSTREAM_KEEPALIVE_MS on: the early 200 ends the
 * SDK's own timer, so only the proxy can still end the request in time.
 */
export function requestDeadline(headers: IncomingHttpHeaders, maxMs: number): RequestDeadline {
  const offered = headers['x-stainless-timeout'];
  if (typeof offered !== 'string') return { ms: maxMs, setBy: 'proxy' };
  const seconds = Number(offered);
  if (!Number.isFinite(seconds) || seconds <= 0) return { ms: maxMs, setBy: 'proxy' };
  const clientMs = Math.max(1_000, Math.round(seconds) * 1_000);
  return clientMs < maxMs ? { ms: clientMs, setBy: 'client' } : { ms: maxMs, setBy: 'proxy' };
}

/**
 * The completers (and a worker's own deadline) end a late request with a 504
 * `deadline_exceeded` naming REQUEST_TIMEOUT_MS: they know the timeout, not whose it is. When the
 * client's timeout set the deadline, the answer names that instead, in the route's dialect;
 * status and code stay. Anything else passes unchanged.
 */
export function answerInClientTerms<A extends Answer>(
  deadline: RequestDeadline,
  answer: A,
  dialect: ErrorDialect,
): A {
  if (deadline.setBy !== 'client' || answer.errorCode !== 'deadline_exceeded') return answer;
  return { ...answer, body: dialect.errorBody(clientDeadlineError(deadline.ms)) };
}

/** The same for a deadline thrown rather than answered (standalone mode). */
export function errorInClientTerms(deadline: RequestDeadline, error: unknown): unknown {
  if (deadline.setBy !== 'client' || !isProxyError(error) || error.code !== 'deadline_exceeded') return error;
  return clientDeadlineError(deadline.ms);
}

import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which headers cross the proxy. Toward the upstream only an allow-list of client headers
 * travels (plus the credentials the proxy decides on); back to the client everything but
 * hop-by-hop headers, which describe one connection and not the message.
 */

const CLIENT_HEADERS_FORWARDED = [
  'openai-organization',
  'openai-project',
  'openai-beta',
  // Anthropic's Messages API reads its version and opt-in features from these.
  'anthropic-version',
  'anthropic-beta',
  'user-agent',
] as const;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The allow-listed client headers, lower-cased, ready for an upstream request. */
export function pickForwardedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of CLIENT_HEADERS_FORWARDED) {
    const value = headers[name];
    if (typeof value === 'string') picked[name] = value;
  }
  return picked;
}

/**
 * What a folded answer carries of its upstream's response headers: the ones clients act on
 * (the SDKs' retry logic reads `retry-after` and `retry-after-ms`; rate-limit and processing
 * headers, OpenAI's `x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*`, are read by
 * dashboards and clients alike). The upstream's own request id stays out: the proxy's
 * `x-request-id` (and, on /v1/messages, `request-id`) names the request.
 */
const ANSWER_HEADER =
  /^(?:retry-after(?:-ms)?|(?:x|anthropic)-ratelimit-[\w-]+|openai-(?:processing-ms|version|organization|project))$/;

export function answerHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string' && ANSWER_HEADER.test(name)) kept[name] = value;
  }
  return kept;
}

/** Upstream response headers fit to relay: hop-by-hop and length/encoding framing removed. */
export function relayableResponseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const relayed: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'content-length') continue;
    relayed[name] = value;
  }
  return relayed;
}

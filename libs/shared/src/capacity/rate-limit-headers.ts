import type { IncomingHttpHeaders } from 'node:http';
import { parseRetryAfter } from '../upstream/upstream-health.js';

/**
 * What an upstream's rate-limit response headers say about its room, read without side effects so
 * the capacity scheduler can decide when to call it next. Headers an upstream did not send, or sent
 * in a shape we cannot read, leave their field out: a wrong guess would stall or flood an upstream,
 * while a missing field only means "no news".
 */

/** What an upstream's response headers say about its room, as absolute times (epoch ms). */
export interface LearnedLimits {
  /** Requests left in the current window, and when the window resets (epoch ms). */
  requests?: { limit?: number; remaining: number; resetAtMs: number };
  /** Tokens left in the current window, and when it resets (epoch ms). */
  tokens?: { limit?: number; remaining: number; resetAtMs: number };
  /** From `retry-after-ms` or `retry-after` (seconds or HTTP date): do not call before this (epoch ms). */
  retryAtMs?: number;
}

type Window = NonNullable<LearnedLimits['requests']>;
type HeaderValue = IncomingHttpHeaders[string];

export function parseRateLimitHeaders(headers: IncomingHttpHeaders, nowMs: number): LearnedLimits {
  const limits: LearnedLimits = {};
  // OpenAI's window wins when both dialects are readable; the other fills in only a window the
  // first one left out, so a garbled OpenAI header does not hide a good Anthropic one.
  const requests = openAIWindow(headers, 'requests', nowMs) ?? anthropicWindow(headers, 'requests');
  const tokens = openAIWindow(headers, 'tokens', nowMs) ?? anthropicTokens(headers);
  const retryAtMs = retryAt(headers, nowMs);
  if (requests) limits.requests = requests;
  if (tokens) limits.tokens = tokens;
  if (retryAtMs !== undefined) limits.retryAtMs = retryAtMs;
  return limits;
}

/** One `<number><unit>` part of a Go-style duration, as OpenAI prints them; `ms` before `m`. */
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
const MS_PER_UNIT: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC Greek mu: Go reads both
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** OpenAI's reset durations: `6m0s`, `20ms`, `1s`, `1.5s`, `2h3m4.5s`, `0s`; undefined when unreadable. */
export function parseResetDuration(text: string): number | undefined {
  const trimmed = text.trim();
  // Go prints a zero duration as `0s`, but its parser also takes a bare `0`.
  if (trimmed === '0') return 0;
  if (trimmed === '') return undefined;
  let totalMs = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < trimmed.length) {
    const at = DURATION_PART.lastIndex;
    const match = DURATION_PART.exec(trimmed);
    // A sticky regex matches only at lastIndex, so a miss means a character we cannot read.
    if (match === null || match.index !== at) return undefined;
    const [, amount, unit] = match;
    totalMs += Number(amount) * (MS_PER_UNIT[unit ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(totalMs) ? totalMs : undefined;
}

/** `x-ratelimit-{limit,remaining,reset}-<kind>`; the reset is a duration from now. */
function openAIWindow(
  headers: IncomingHttpHeaders,
  kind: 'requests' | 'tokens',
  nowMs: number,
): Window | undefined {
  const resetText = first(headers[`x-ratelimit-reset-${kind}`]);
  const resetInMs = resetText === undefined ? undefined : parseResetDuration(resetText);
  return windowOf(
    headers[`x-ratelimit-limit-${kind}`],
    headers[`x-ratelimit-remaining-${kind}`],
    resetInMs === undefined ? undefined : nowMs + resetInMs,
  );
}

/** `anthropic-ratelimit-<kind>-{limit,remaining,reset}`; the reset is an RFC 3339 timestamp. */
function anthropicWindow(headers: IncomingHttpHeaders, kind: string): Window | undefined {
  const prefix = `anthropic-ratelimit-${kind}`;
  return windowOf(
    headers[`${prefix}-limit`],
    headers[`${prefix}-remaining`],
    timestamp(headers[`${prefix}-reset`]),
  );
}

/**
 * Anthropic's combined `tokens` window is already its most restrictive one; without it, the
 * input and output windows each gate the call, so the one with less left is the one that binds.
 */
function anthropicTokens(headers: IncomingHttpHeaders): Window | undefined {
  const combined = anthropicWindow(headers, 'tokens');
  if (combined) return combined;
  const input = anthropicWindow(headers, 'input-tokens');
  const output = anthropicWindow(headers, 'output-tokens');
  if (!input || !output) return input ?? output;
  if (input.remaining !== output.remaining) return input.remaining < output.remaining ? input : output;
  // Equal room left: the later reset is the one that keeps us waiting.
  return input.resetAtMs >= output.resetAtMs ? input : output;
}

/** A window only when both its remaining count and its reset time are readable. */
function windowOf(
  limit: HeaderValue,
  remaining: HeaderValue,
  resetAtMs: number | undefined,
): Window | undefined {
  const left = count(remaining);
  if (left === undefined || resetAtMs === undefined) return undefined;
  const window: Window = { remaining: left, resetAtMs };
  const most = count(limit);
  if (most !== undefined) window.limit = most;
  return window;
}

/** `retry-after-ms` (OpenAI's, finer) wins; `retry-after` is read as the upstream health reads it. */
function retryAt(headers: IncomingHttpHeaders, nowMs: number): number | undefined {
  const retryMs = count(headers['retry-after-ms']);
  if (retryMs !== undefined) return nowMs + retryMs;
  const retryAfterMs = parseRetryAfter(first(headers['retry-after']), nowMs);
  return retryAfterMs === undefined ? undefined : nowMs + retryAfterMs;
}

/** Plain decimals only: `Number()` alone would take `''` as 0 and `0x10` as 16. */
const DECIMAL = /^\d+(?:\.\d+)?$/;

/** A finite number ≥ 0 written as a plain decimal; undefined otherwise. */
function count(value: HeaderValue): number | undefined {
  const text = first(value)?.trim();
  return text !== undefined && DECIMAL.test(text) ? Number(text) : undefined;
}

/** An absolute timestamp (RFC 3339 as Anthropic sends it) as epoch ms; undefined when unreadable. */
function timestamp(value: HeaderValue): number | undefined {
  const text = first(value)?.trim();
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** undici's responses hand a repeated header over as an array: the first one counts. */
function first(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

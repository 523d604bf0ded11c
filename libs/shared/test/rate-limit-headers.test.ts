import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders, parseResetDuration } from '../src/capacity/rate-limit-headers.js';

// What an upstream's rate-limit headers tell the capacity scheduler, with the header values
// OpenAI and Anthropic document: windows as absolute times, garbage left out, never a throw.

const NOW = Date.parse('2024-08-29T22:27:00Z');

/** OpenAI's documented example: 60 requests a minute, 150k tokens. */
const openAIHeaders: IncomingHttpHeaders = {
  'x-ratelimit-limit-requests': '60',
  'x-ratelimit-limit-tokens': '150000',
  'x-ratelimit-remaining-requests': '59',
  'x-ratelimit-remaining-tokens': '149984',
  'x-ratelimit-reset-requests': '1s',
  'x-ratelimit-reset-tokens': '6m0s',
};

/** Anthropic's documented set: counts, and resets as RFC 3339 timestamps. */
const anthropicHeaders: IncomingHttpHeaders = {
  'anthropic-ratelimit-requests-limit': '50',
  'anthropic-ratelimit-requests-remaining': '49',
  'anthropic-ratelimit-requests-reset': '2024-08-29T22:27:01Z',
  'anthropic-ratelimit-tokens-limit': '50000',
  'anthropic-ratelimit-tokens-remaining': '39000',
  'anthropic-ratelimit-tokens-reset': '2024-08-29T22:27:12Z',
  'anthropic-ratelimit-input-tokens-limit': '40000',
  'anthropic-ratelimit-input-tokens-remaining': '30000',
  'anthropic-ratelimit-input-tokens-reset': '2024-08-29T22:27:10Z',
  'anthropic-ratelimit-output-tokens-limit': '8000',
  'anthropic-ratelimit-output-tokens-remaining': '7000',
  'anthropic-ratelimit-output-tokens-reset': '2024-08-29T22:27:05Z',
};

/** `headers` without the entries whose names start with `prefix`. */
function without(headers: IncomingHttpHeaders, prefix: string): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(prefix)));
}

describe('parseResetDuration', () => {
  it.each([
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1s', 1000],
    ['1.5s', 1500],
    ['2h3m4.5s', 7_384_500],
    ['0s', 0],
    ['0', 0],
    ['59.999s', 59_999],
    ['1m30.5s', 90_500],
    ['500us', 0.5],
    [' 1s ', 1000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseResetDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['abc', '', '   ', '1', '6m0', 's', '1x', '-1s', '1s2', 'm1s', '1s abc', '1,5s', 'NaN s'])(
    '%j is unreadable',
    (text) => {
      expect(parseResetDuration(text)).toBeUndefined();
    },
  );
});

describe('parseRateLimitHeaders with OpenAI headers', () => {
  it('reads both windows, resets counted from now', () => {
    expect(parseRateLimitHeaders(openAIHeaders, NOW)).toEqual({
      requests: { limit: 60, remaining: 59, resetAtMs: NOW + 1000 },
      tokens: { limit: 150_000, remaining: 149_984, resetAtMs: NOW + 360_000 },
    });
  });

  it('reads an exhausted window with a sub-second reset', () => {
    const limits = parseRateLimitHeaders(
      { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '20ms' },
      NOW,
    );
    expect(limits).toEqual({ requests: { remaining: 0, resetAtMs: NOW + 20 } });
  });

  it('takes the first of repeated values', () => {
    const limits = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': ['60', '30'],
        'x-ratelimit-remaining-requests': ['12', '0'],
        'x-ratelimit-reset-requests': ['2s', '1h'],
      },
      NOW,
    );
    expect(limits.requests).toEqual({ limit: 60, remaining: 12, resetAtMs: NOW + 2000 });
  });

  it('reports a window without its limit when only the limit is unreadable', () => {
    const limits = parseRateLimitHeaders({ ...openAIHeaders, 'x-ratelimit-limit-tokens': 'lots' }, NOW);
    expect(limits.tokens).toEqual({ remaining: 149_984, resetAtMs: NOW + 360_000 });
  });

  it('reports no window when remaining or reset is missing', () => {
    expect(parseRateLimitHeaders(without(openAIHeaders, 'x-ratelimit-reset'), NOW)).toEqual({});
    expect(parseRateLimitHeaders(without(openAIHeaders, 'x-ratelimit-remaining'), NOW)).toEqual({});
  });

  it.each([
    ['remaining', 'x-ratelimit-remaining-requests', ''],
    ['remaining', 'x-ratelimit-remaining-requests', 'abc'],
    ['remaining', 'x-ratelimit-remaining-requests', '-1'],
    ['remaining', 'x-ratelimit-remaining-requests', 'Infinity'],
    ['remaining', 'x-ratelimit-remaining-requests', '0x10'],
    ['remaining', 'x-ratelimit-remaining-requests', '1e3'],
    ['reset', 'x-ratelimit-reset-requests', 'soon'],
    ['reset', 'x-ratelimit-reset-requests', '2024-08-29T22:27:01Z'],
    ['reset', 'x-ratelimit-reset-requests', ''],
  ])('ignores a garbage %s (%s: %j) and keeps the other window', (_what, name, value) => {
    const limits = parseRateLimitHeaders({ ...openAIHeaders, [name]: value }, NOW);
    expect(limits.requests).toBeUndefined();
    expect(limits.tokens).toEqual({ limit: 150_000, remaining: 149_984, resetAtMs: NOW + 360_000 });
  });

  it('ignores an empty array', () => {
    const limits = parseRateLimitHeaders({ ...openAIHeaders, 'x-ratelimit-remaining-tokens': [] }, NOW);
    expect(limits.tokens).toBeUndefined();
    expect(limits.requests?.remaining).toBe(59);
  });
});

describe('parseRateLimitHeaders with Anthropic headers', () => {
  it('reads requests and prefers the combined tokens window', () => {
    expect(parseRateLimitHeaders(anthropicHeaders, NOW)).toEqual({
      requests: { limit: 50, remaining: 49, resetAtMs: Date.parse('2024-08-29T22:27:01Z') },
      tokens: { limit: 50_000, remaining: 39_000, resetAtMs: Date.parse('2024-08-29T22:27:12Z') },
    });
  });

  it('reads an RFC 3339 reset with fractional seconds and an offset', () => {
    const limits = parseRateLimitHeaders(
      {
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': '2024-08-29T23:27:01.250+01:00',
      },
      NOW,
    );
    expect(limits.requests).toEqual({ remaining: 0, resetAtMs: Date.parse('2024-08-29T22:27:01.250Z') });
  });

  it('without the combined window, uses the input or output window with less left', () => {
    const split = without(anthropicHeaders, 'anthropic-ratelimit-tokens-');
    expect(parseRateLimitHeaders(split, NOW).tokens).toEqual({
      limit: 8000,
      remaining: 7000,
      resetAtMs: Date.parse('2024-08-29T22:27:05Z'),
    });
    const inputTighter = { ...split, 'anthropic-ratelimit-input-tokens-remaining': '100' };
    expect(parseRateLimitHeaders(inputTighter, NOW).tokens).toEqual({
      limit: 40_000,
      remaining: 100,
      resetAtMs: Date.parse('2024-08-29T22:27:10Z'),
    });
  });

  it('with equal room left on input and output, takes the later reset', () => {
    const split = {
      ...without(anthropicHeaders, 'anthropic-ratelimit-tokens-'),
      'anthropic-ratelimit-input-tokens-remaining': '7000',
    };
    expect(parseRateLimitHeaders(split, NOW).tokens?.resetAtMs).toBe(Date.parse('2024-08-29T22:27:10Z'));
  });

  it('uses the input window alone when output is absent or unreadable', () => {
    const inputOnly = without(
      without(anthropicHeaders, 'anthropic-ratelimit-tokens-'),
      'anthropic-ratelimit-output',
    );
    const expected = { limit: 40_000, remaining: 30_000, resetAtMs: Date.parse('2024-08-29T22:27:10Z') };
    expect(parseRateLimitHeaders(inputOnly, NOW).tokens).toEqual(expected);
    const garbledOutput = {
      ...without(anthropicHeaders, 'anthropic-ratelimit-tokens-'),
      'anthropic-ratelimit-output-tokens-reset': 'tomorrow-ish',
    };
    expect(parseRateLimitHeaders(garbledOutput, NOW).tokens).toEqual(expected);
  });

  it('falls back to input/output when the combined window is unreadable', () => {
    const garbled = { ...anthropicHeaders, 'anthropic-ratelimit-tokens-remaining': 'n/a' };
    expect(parseRateLimitHeaders(garbled, NOW).tokens?.remaining).toBe(7000);
  });

  it('ignores an unreadable reset timestamp', () => {
    const limits = parseRateLimitHeaders(
      { ...anthropicHeaders, 'anthropic-ratelimit-requests-reset': 'not a date' },
      NOW,
    );
    expect(limits.requests).toBeUndefined();
    expect(limits.tokens?.remaining).toBe(39_000);
  });
});

describe('parseRateLimitHeaders with both dialects', () => {
  it("takes OpenAI's windows", () => {
    const limits = parseRateLimitHeaders({ ...anthropicHeaders, ...openAIHeaders }, NOW);
    expect(limits.requests).toEqual({ limit: 60, remaining: 59, resetAtMs: NOW + 1000 });
    expect(limits.tokens).toEqual({ limit: 150_000, remaining: 149_984, resetAtMs: NOW + 360_000 });
  });

  it("fills a window OpenAI's headers leave unreadable from Anthropic's", () => {
    const limits = parseRateLimitHeaders(
      { ...anthropicHeaders, ...openAIHeaders, 'x-ratelimit-reset-tokens': '??' },
      NOW,
    );
    expect(limits.requests?.limit).toBe(60);
    expect(limits.tokens?.limit).toBe(50_000);
  });
});

describe('parseRateLimitHeaders retry hints', () => {
  it('reads retry-after as delta-seconds', () => {
    expect(parseRateLimitHeaders({ 'retry-after': '30' }, NOW)).toEqual({ retryAtMs: NOW + 30_000 });
  });

  it('reads retry-after as an HTTP date', () => {
    const limits = parseRateLimitHeaders({ 'retry-after': 'Thu, 29 Aug 2024 22:28:00 GMT' }, NOW);
    expect(limits.retryAtMs).toBe(NOW + 60_000);
  });

  it('reads retry-after-ms, which wins over retry-after', () => {
    expect(parseRateLimitHeaders({ 'retry-after-ms': '1500' }, NOW)).toEqual({ retryAtMs: NOW + 1500 });
    expect(parseRateLimitHeaders({ 'retry-after-ms': '250.5', 'retry-after': '30' }, NOW)).toEqual({
      retryAtMs: NOW + 250.5,
    });
  });

  it('falls back to retry-after when retry-after-ms is unreadable', () => {
    const limits = parseRateLimitHeaders({ 'retry-after-ms': 'soon', 'retry-after': '2' }, NOW);
    expect(limits.retryAtMs).toBe(NOW + 2000);
  });

  // IncomingHttpHeaders types `retry-after` as a lone string; undici hands repeats of any other
  // header over as an array.
  it('takes the first of repeated retry-after-ms values', () => {
    expect(parseRateLimitHeaders({ 'retry-after-ms': ['500', '60000'] }, NOW).retryAtMs).toBe(NOW + 500);
  });

  it.each(['', 'later', 'Thursday-ish'])('ignores a garbage retry-after %j', (value) => {
    expect(parseRateLimitHeaders({ 'retry-after': value, 'retry-after-ms': 'x' }, NOW)).toEqual({});
  });

  it('reads windows and retry hint together', () => {
    const limits = parseRateLimitHeaders({ ...openAIHeaders, 'retry-after': '1' }, NOW);
    expect(limits.retryAtMs).toBe(NOW + 1000);
    expect(limits.requests?.remaining).toBe(59);
  });

  it('returns nothing for no rate-limit headers', () => {
    expect(parseRateLimitHeaders({ 'content-type': 'application/json' }, NOW)).toEqual({});
  });
});

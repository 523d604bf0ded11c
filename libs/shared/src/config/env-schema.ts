import { z } from 'zod';

/**
 * Helpers that turn environment strings into typed values. Every variable is a string or
 * undefined in `process.env`; an empty string counts as unset so `FOO=` in a .env file
 * falls back to the default instead of failing.
 */

const unsetIfEmpty = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** What a variable held, for a message that says what it expected instead. */
const got = (raw: unknown) => `got "${String(raw)}"`;

const wholeNumberRange = (min: number, max: number) =>
  max === Number.MAX_SAFE_INTEGER ? `a whole number, ${min} or more` : `a whole number from ${min} to ${max}`;

/** A whole number within bounds, read from its string; the message names the bounds and the value. */
const wholeNumber = (min: number, max: number) => {
  const expected = (raw: unknown) => `must be ${wholeNumberRange(min, max)}, ${got(raw)}`;
  return z.string({ error: (issue) => expected(issue.input) }).transform((raw, ctx) => {
    const value = Number(raw.trim());
    if (Number.isInteger(value) && value >= min && value <= max) return value;
    ctx.issues.push({ code: 'custom', input: raw, message: expected(raw) });
    return z.NEVER;
  });
};

export const intVar = (defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(unsetIfEmpty, wholeNumber(min, max).default(defaultValue));

const TRUE_WORDS = ['true', '1', 'yes', 'on'];

export const boolVar = (defaultValue: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
        error: (issue) => `must be true or false (or 1/0, yes/no, on/off), ${got(issue.input)}`,
      })
      .default(defaultValue ? 'true' : 'false')
      .transform((value) => TRUE_WORDS.includes(value)),
  );

export const stringVar = (defaultValue: string) =>
  z.preprocess(unsetIfEmpty, z.string().default(defaultValue));

export const optionalStringVar = () => z.preprocess(unsetIfEmpty, z.string().optional());

/** A comma-separated list; blanks around commas are ignored. */
export const listVar = () =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .optional()
      .transform((value) =>
        value === undefined
          ? []
          : value
              .split(',')
              .map((item) => item.trim())
              .filter((item) => item.length > 0),
      ),
  );

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * `UPSTREAM_API_URL`: one or more chat-completions URLs or base URLs ending in `/v1`
 * (upstream-paths.ts), comma-separated. Unset is an empty list here; `loadConfig` requires it
 * unless UPSTREAMS_FILE names the upstreams instead.
 */
export const upstreamUrlsVar = () =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .optional()
      .transform((value) =>
        (value ?? '')
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0),
      )
      .pipe(
        z.array(
          z
            .string()
            .refine(isHttpUrl, { error: (issue) => `"${String(issue.input)}" is not an http(s) URL` }),
        ),
      ),
  );

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logLevelVar = () =>
  z.preprocess(
    unsetIfEmpty,
    z
      .enum(LOG_LEVELS, { error: (issue) => `must be one of ${LOG_LEVELS.join(', ')}, ${got(issue.input)}` })
      .default('info'),
  );

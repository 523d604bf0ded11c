import { z } from 'zod';

/**
 * Helpers that turn environment strings into typed values. Every variable is a string or
 * undefined in `process.env`; an empty string counts as unset so `FOO=` in a .env file
 * falls back to the default instead of failing.
 */

const unsetIfEmpty = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

export const intVar = (defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).max(max).default(defaultValue));

export const optionalIntVar = (min = 0) =>
  z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).optional());

export const boolVar = (defaultValue: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
      .default(defaultValue ? 'true' : 'false')
      .transform((value) => ['true', '1', 'yes', 'on'].includes(value)),
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
 * `UPSTREAM_API_URL`: one or more full chat-completions URLs, comma-separated. Unset is an empty
 * list here; `loadConfig` requires it unless UPSTREAMS_FILE names the upstreams instead.
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

export const logLevelVar = () =>
  z.preprocess(
    unsetIfEmpty,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  );

import { errors } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';
import type { z } from 'zod';

/** `messages[0].role` from zod's path, as OpenAI names parameters in its errors. */
function paramName(path: readonly PropertyKey[]): string {
  return path.reduce<string>((name, key) => {
    if (typeof key === 'number') return `${name}[${key}]`;
    return name === '' ? String(key) : `${name}.${String(key)}`;
  }, '');
}

/** The value at `path` in the body, to tell a missing field from a wrong one. */
function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value = body;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** OpenAI's error codes for the same faults, so clients that branch on `code` keep working. */
function codeFor(issue: z.core.$ZodIssue, missing: boolean): string {
  if (missing) return 'missing_required_parameter';
  if (issue.code === 'too_small' && issue.origin === 'array') return 'empty_array';
  if (issue.code === 'invalid_type' || issue.code === 'invalid_union') return 'invalid_type';
  return 'invalid_value';
}

/**
 * Refuses a body the schema rejects with a 400 whose `param` names the first bad field and
 * whose `code` says what was wrong with it. The message never repeats the value sent.
 */
export function validateBody(schema: z.ZodType): RequestHandler {
  return (req, _res, next) => {
    const result = schema.safeParse(req.body);
    if (result.success) {
      next();
      return;
    }
    const issue = result.error.issues[0];
    if (issue === undefined) {
      next(errors.badRequest('Invalid request.', null, 'invalid_value'));
      return;
    }
    const param = paramName(issue.path);
    const missing = valueAt(req.body, issue.path) === undefined;
    const message = missing
      ? `Missing required parameter: '${param}'.`
      : `Invalid '${param}': ${issue.message}.`;
    next(errors.badRequest(message, param || null, codeFor(issue, missing)));
  };
}

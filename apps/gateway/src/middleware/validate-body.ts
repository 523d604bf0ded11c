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

/** Refuses a body the schema rejects with a 400 whose `param` names the first bad field. */
export function validateBody(schema: z.ZodType): RequestHandler {
  return (req, _res, next) => {
    const result = schema.safeParse(req.body);
    if (result.success) {
      next();
      return;
    }
    const issue = result.error.issues[0];
    const param = issue ? paramName(issue.path) : null;
    const detail = issue ? issue.message : 'invalid request';
    next(
      errors.badRequest(
        param ? `Invalid '${param}': ${detail}.` : `Invalid request: ${detail}.`,
        param,
        'invalid_value',
      ),
    );
  };
}

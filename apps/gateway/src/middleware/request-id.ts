import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

const SAFE_ID = /^[\w.:-]{1,128}$/;

/** Takes the client's `x-request-id` when it is a sane token, else makes one; echoes it back. */
export const requestId: RequestHandler = (req, res, next) => {
  const offered = req.headers['x-request-id'];
  const id = typeof offered === 'string' && SAFE_ID.test(offered) ? offered : randomUUID();
  res.locals.requestId = id;
  res.setHeader('x-request-id', id);
  next();
};

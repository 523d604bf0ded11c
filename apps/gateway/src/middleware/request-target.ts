import { errors } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';

/** `..` or `.` as a path segment, also percent-encoded (`%2e`) or with a backslash for a slash. */
const DOT_SEGMENT = /(?:^|[/\\])(?:\.|%2e){1,2}(?:[/\\?#]|$)/i;

/**
 * Upstream targets come from configuration only: a request chooses the path below `/v1` of a
 * configured upstream, never its host. This refuses the request targets that could lead
 * elsewhere: the absolute form (`GET http://other-host/v1/...`) and dot segments that would
 * climb out of the upstream's `/v1` on a server that normalises paths.
 */
export const requireSafeTarget: RequestHandler = (req, _res, next) => {
  const target = req.originalUrl;
  const path = target.split('?', 1)[0] ?? '';
  if (!target.startsWith('/') || target.startsWith('//') || DOT_SEGMENT.test(path)) {
    next(errors.badRequest('The request path is not allowed.', null, 'invalid_path'));
    return;
  }
  next();
};

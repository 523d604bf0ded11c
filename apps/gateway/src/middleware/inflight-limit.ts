import { errors } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';

/**
 * Bounds the requests one gateway process holds at once, so a flood turns into quick 503s
 * with Retry-After instead of unbounded memory. A request counts until its response ends or
 * its client leaves.
 */
export function inflightLimit(max: number): RequestHandler {
  let inflight = 0;
  return (_req, res, next) => {
    if (inflight >= max) {
      next(
        errors.unavailable(
          `The gateway is at its limit of ${max} requests in flight.`,
          'gateway_overloaded',
          1,
        ),
      );
      return;
    }
    inflight += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inflight -= 1;
    };
    res.on('finish', release);
    res.on('close', release);
    next();
  };
}

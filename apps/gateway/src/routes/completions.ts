import { Router } from 'express';
import { jsonBody } from '../middleware/json-body.js';
import { validateBody } from '../middleware/validate-body.js';
import { textCompletionRequest } from '../validation/request-schemas.js';
import { completionHandler } from './completion-handler.js';
import type { RouteDeps } from './route-deps.js';

/** `POST /v1/completions`: legacy text completions, folded the same way as chat. */
export function completionsRoute(deps: RouteDeps, maxBodyBytes: number): Router {
  return Router().post(
    '/v1/completions',
    ...jsonBody(maxBodyBytes, deps.config.MAX_JSON_DEPTH),
    validateBody(textCompletionRequest),
    completionHandler('completion', deps),
  );
}

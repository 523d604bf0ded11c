import { Router } from 'express';
import { jsonBody } from '../middleware/json-body.js';
import { validateBody } from '../middleware/validate-body.js';
import { chatCompletionRequest } from '../validation/request-schemas.js';
import { completionHandler } from './completion-handler.js';
import type { RouteDeps } from './route-deps.js';

/** `POST /v1/chat/completions`. */
export function chatCompletionsRoute(deps: RouteDeps, maxBodyBytes: number): Router {
  return Router().post(
    '/v1/chat/completions',
    ...jsonBody(maxBodyBytes, deps.config.MAX_JSON_DEPTH),
    validateBody(chatCompletionRequest),
    completionHandler('chat', deps),
  );
}

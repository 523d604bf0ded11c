/** OpenAI-shaped error bodies, serialised once where they never change. */
export function openAiErrorBody(
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

export const STREAM_REQUIRED_BODY = Buffer.from(
  openAiErrorBody(
    'This provider only supports stream: true',
    'invalid_request_error',
    'stream',
    'stream_required',
  ),
);

export const INVALID_JSON_BODY = Buffer.from(
  openAiErrorBody('We could not parse the JSON body of your request.', 'invalid_request_error'),
);

export function notFoundBody(method: string, path: string): string {
  return openAiErrorBody(`Invalid URL (${method} ${path})`, 'invalid_request_error', null, 'not_found');
}

function errorTypeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The default body of a `status` behaviour. */
export function statusErrorBody(status: number): string {
  return openAiErrorBody(
    `Mock upstream error (status ${status})`,
    errorTypeFor(status),
    null,
    `mock_${status}`,
  );
}

/**
 * OpenAI's 429 for a requests-per-window limit. `code` is OpenAI's own (`rate_limit_exceeded`); real
 * OpenAI puts the exhausted budget (`requests`) in `type`, the mock repeats the code there so a client
 * that checks either field sees a rate limit.
 */
export function openAiRateLimitBody(limit: number, tryAgainIn: string): string {
  return openAiErrorBody(
    `Rate limit reached on requests per window: Limit ${limit}, Used ${limit}, Requested 1. Please try again in ${tryAgainIn}.`,
    'rate_limit_exceeded',
    null,
    'rate_limit_exceeded',
  );
}

/** Anthropic's 429 body, as `/v1/messages` answers it. */
export function anthropicRateLimitBody(limit: number): string {
  return JSON.stringify({
    type: 'error',
    error: {
      type: 'rate_limit_error',
      message: `This request would exceed the rate limit of ${limit} requests per window. Please try again later.`,
    },
  });
}

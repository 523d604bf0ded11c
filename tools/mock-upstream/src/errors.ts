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

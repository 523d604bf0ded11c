/** Small helpers for raw HTTP calls to a gateway, where the SDK would hide what is tested. */

export interface JsonAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> & {
    error?: { message: string; type: string; param: string | null; code: string | null };
  };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<JsonAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  let json: JsonAnswer['json'] = {};
  try {
    json = JSON.parse(text) as JsonAnswer['json'];
  } catch {
    // Not JSON (an SSE body, say): callers look at `text`.
  }
  return { status: response.status, headers: response.headers, text, json };
}

export const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'mock-model',
  messages: [{ role: 'user', content }],
  ...extra,
});

/** Polls `check` until it returns true or the deadline passes (for state across processes). */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

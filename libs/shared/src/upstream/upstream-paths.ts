const CHAT_SUFFIX = '/chat/completions';

/** A path whose last segment is an API version (`/v1`, `/api/v3`), with or without a final slash. */
const VERSION_BASE = /\/v\d+\/?$/;

/** Where an upstream's endpoints are, from the URL it was configured with. */
export interface UpstreamPaths {
  /** Chat completions, query included (some providers need one, e.g. `?api-version=`). */
  chatPath: string;
  /** What every other endpoint hangs below: `/v1` for `https://host/v1/…`. */
  basePath: string;
}

/**
 * An upstream URL is written in one of two forms, and both are read the same way:
 * - its chat-completions URL, `https://host/v1/chat/completions` (as in the original tool): the
 *   other endpoints live beside it, `/v1/models` at `https://host/v1/models`;
 * - its base URL, `https://host/v1`, the form every SDK, LiteLLM and one-api take: chat is at
 *   `/chat/completions` below it, and so is everything else. A path ending in a version segment is
 *   never a chat endpoint itself, so the two cannot be mistaken for each other.
 * Any other path is taken as the chat URL, as written; the others then fall back to `/v1`.
 */
export function upstreamPaths(url: URL): UpstreamPaths {
  const { pathname, search } = url;
  if (pathname.endsWith(CHAT_SUFFIX))
    return { chatPath: pathname + search, basePath: pathname.slice(0, -CHAT_SUFFIX.length) };
  if (VERSION_BASE.test(pathname)) {
    const basePath = pathname.replace(/\/$/, '');
    return { chatPath: basePath + CHAT_SUFFIX + search, basePath };
  }
  return { chatPath: pathname + search, basePath: '/v1' };
}

/** The upstream path of a client path below `/v1` (`/models?x=1`, `/chat/completions`). */
export function upstreamPathFor(paths: UpstreamPaths, v1Subpath: string): string {
  return v1Subpath === CHAT_SUFFIX ? paths.chatPath : paths.basePath + v1Subpath;
}

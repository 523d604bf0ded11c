import type { MockUpstream } from '@openai-proxy/mock-upstream';
import {
  type CompletionApi,
  completeFromStream,
  foldBody,
  type UpstreamConfig,
  UpstreamSet,
  type UpstreamTimeouts,
} from '@openai-proxy/shared';

/** A non-stream answer as `completeFromStream` gives it: status, body, and the fold's counts. */
export type FoldAnswer = Awaited<ReturnType<typeof completeFromStream>>;

/**
 * Non-stream calls made in the test's own process, exactly as a worker or a standalone gateway
 * makes them (`completeFromStream`), against one mock upstream: one try, no retry of a broken
 * stream, so each call is one upstream request and its answer is that request's.
 */
export interface InProcessFold {
  complete(api: CompletionApi, body: Record<string, unknown>): Promise<FoldAnswer>;
  close(): Promise<void>;
}

const DEFAULT_TIMEOUTS: UpstreamTimeouts = { connectMs: 5_000, firstByteMs: 30_000, idleMs: 30_000 };

export function inProcessFold(
  upstream: MockUpstream,
  timeouts: Partial<UpstreamTimeouts> = {},
): InProcessFold {
  const { connectMs, firstByteMs, idleMs } = { ...DEFAULT_TIMEOUTS, ...timeouts };
  const config: UpstreamConfig = {
    UPSTREAM_API_URL: [upstream.chatUrl],
    UPSTREAMS_FILE: undefined,
    UPSTREAM_API_KEY: [],
    UPSTREAM_INCLUDE_USAGE: true,
    UPSTREAM_CONNECTIONS: 4,
    UPSTREAM_MAX_TRIES: 1,
    UPSTREAM_STREAM_RETRIES: 0,
    UPSTREAM_CONNECT_TIMEOUT_MS: connectMs,
    UPSTREAM_FIRST_BYTE_TIMEOUT_MS: firstByteMs,
    UPSTREAM_IDLE_TIMEOUT_MS: idleMs,
    UPSTREAM_TOTAL_TIMEOUT_MS: 0,
    UPSTREAM_COOLDOWN_MS: 0,
    UPSTREAM_COOLDOWN_MAX_MS: 0,
  };
  const upstreams = new UpstreamSet(config, { env: {} });
  const settings = { maxTries: 1, streamRetries: 0, timeouts: { connectMs, firstByteMs, idleMs } };
  let calls = 0;
  return {
    complete(api, body) {
      const group = upstreams.groupFor(undefined);
      if (group === undefined) throw new Error('the mock upstream serves every model');
      calls += 1;
      const request = { kind: api.kind, body: foldBody(body), headers: {}, requestId: `in-process-${calls}` };
      return completeFromStream(group, settings, api, request, new AbortController().signal);
    },
    close: () => upstreams.close(),
  };
}

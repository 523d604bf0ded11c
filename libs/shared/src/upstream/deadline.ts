import { type ErrorCode, ProxyError } from '../fold/errors.js';

/** The reason a call is aborted when its client went away; nothing is sent to anyone. */
export class ClientGoneError extends Error {
  constructor() {
    super('The client closed the connection.');
    this.name = 'ClientGoneError';
  }
}

/** The deadlines a whole request can have, each with the setting that names it. */
const DEADLINES = {
  deadline_exceeded: 'request timeout (REQUEST_TIMEOUT_MS)',
  total_timeout: 'total timeout (UPSTREAM_TOTAL_TIMEOUT_MS)',
} as const satisfies Partial<Record<ErrorCode, string>>;

export type DeadlineCode = keyof typeof DEADLINES;

export function deadlineError(code: DeadlineCode, ms: number): ProxyError {
  return new ProxyError(code, `The ${DEADLINES[code]}, ${ms} ms, expired before the answer was complete.`);
}

/**
 * The 504 of a request whose deadline the client set: its SDK's own timeout (sent as
 * `X-Stainless-Timeout`, whole seconds), shorter than REQUEST_TIMEOUT_MS. Named as the client's,
 * so nobody raises the proxy's timeout to cure a timeout set in the client.
 */
export function clientDeadlineError(ms: number): ProxyError {
  return new ProxyError(
    'deadline_exceeded',
    `Your client's own timeout of ${ms / 1000} s (X-Stainless-Timeout) expired before the answer was complete; raise the client's timeout for longer answers.`,
  );
}

/**
 * A signal that aborts when `parent` does, or when `ms` pass (0: never), with the deadline's
 * ProxyError as its reason. `dispose` clears the timer once the work is done.
 */
export function withDeadline(
  parent: AbortSignal,
  ms: number,
  code: DeadlineCode,
): { signal: AbortSignal; dispose: () => void } {
  if (ms <= 0) return { signal: parent, dispose: () => {} };
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  const timer = setTimeout(() => controller.abort(deadlineError(code, ms)), ms);
  timer.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

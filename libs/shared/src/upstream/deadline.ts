import { ProxyError } from '../openai/errors.js';

/** The reason a call is aborted when its client went away; nothing is sent to anyone. */
export class ClientGoneError extends Error {
  constructor() {
    super('The client closed the connection.');
    this.name = 'ClientGoneError';
  }
}

export function deadlineError(what: string, ms: number): ProxyError {
  return new ProxyError(`The ${what} (${ms} ms) expired before the answer was complete.`, {
    status: 504,
    code: `${what.replaceAll(' ', '_')}`,
    type: 'timeout_error',
  });
}

/**
 * A signal that aborts when `parent` does, or when `ms` pass (0: never), with a ProxyError
 * naming the timeout as its reason. `dispose` clears the timer once the work is done.
 */
export function withDeadline(
  parent: AbortSignal,
  ms: number,
  what: string,
): { signal: AbortSignal; dispose: () => void } {
  if (ms <= 0) return { signal: parent, dispose: () => {} };
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  const timer = setTimeout(() => controller.abort(deadlineError(what, ms)), ms);
  timer.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

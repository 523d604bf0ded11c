import { ClientGoneError, type ErrorDialect, openAIErrorDialect } from '@openai-proxy/shared';

/** The bounded `route` label of a request's metrics: a route template, never a raw path. */
export type RouteLabel =
  /** An API's path (`CompletionApi.path`): `/v1/chat/completions`, `/v1/messages`, … */
  | `/v1/${string}`
  | '/v1/models'
  | '/v1/*'
  | '/health'
  | '/ready'
  | '/metrics'
  | '/admin/status'
  | '/admin/queues'
  | 'other';

/**
 * Who learns that a client left before its answer was complete. Lighter than an AbortSignal (an
 * EventTarget with two Maps a request), which a gateway holding thousands of waiting requests
 * would otherwise keep for each; the signal is made only for what needs one (an upstream call).
 */
export interface ClientDeparture {
  /** True once the client has left. */
  readonly left: boolean;
  /** Calls `listener` when the client leaves (at once if it has); returns how to stop listening. */
  onLeave(listener: (reason: ClientGoneError) => void): () => void;
}

/**
 * Everything the gateway learns about one request on its way, created once at the door and
 * passed to each step; what the end of the request logs and counts is read from here.
 */
export class RequestContext implements ClientDeparture {
  readonly startedAt = performance.now();
  /** The digest that names the client for the rate limiter (only set when a limiter runs). */
  clientKeyDigest: string | undefined;
  /** The upstream that answered, for the log line. */
  upstream: string | null = null;
  /** The group of upstreams serving the request's model (a label from configuration). */
  group: string | null = null;
  /** Sent through the queue: timed as a queued request. */
  queued = false;
  /** How long the job waited for a worker (queue mode). */
  queueWaitMs: number | undefined;
  /** The answer's own status when a keep-alive 200 went out before it. */
  answerStatus: number | undefined;
  /** True once the client left before its answer was complete. */
  left = false;
  private gone: AbortController | undefined;
  private leaveListeners: ((reason: ClientGoneError) => void)[] | undefined;

  constructor(
    readonly id: string,
    public route: RouteLabel,
    /** The shape of this route's errors, chosen in the route table (see server.ts). */
    readonly errorDialect: ErrorDialect = openAIErrorDialect,
  ) {}

  /** Aborts, with a ClientGoneError, when the client leaves before its answer is complete. */
  get clientGone(): AbortSignal {
    if (this.gone === undefined) {
      const gone = new AbortController();
      this.onLeave((reason) => gone.abort(reason));
      this.gone = gone;
    }
    return this.gone.signal;
  }

  onLeave(listener: (reason: ClientGoneError) => void): () => void {
    if (this.left) {
      listener(new ClientGoneError());
      return () => undefined;
    }
    this.leaveListeners ??= [];
    this.leaveListeners.push(listener);
    return () => {
      const listeners = this.leaveListeners;
      const index = listeners?.indexOf(listener) ?? -1;
      if (index !== -1) listeners?.splice(index, 1);
    };
  }

  /** Called once, when the response ends or its connection closes. */
  ended(completed: boolean): void {
    if (completed) return;
    this.left = true;
    const reason = new ClientGoneError();
    const listeners = this.leaveListeners;
    this.leaveListeners = undefined;
    for (const listener of listeners ?? []) listener(reason);
  }
}

import {
  ClientGoneError,
  type CompletionApi,
  completeFromStream,
  deadlineError,
  errors,
  type FoldRequest,
  type Logger,
  type NonStreamSettings,
  type UpstreamObserver,
  type UpstreamSet,
} from '@openai-proxy/shared';
import type { ClientDeparture } from '../pipeline/request-context.js';
import { Deadlines } from './deadlines.js';
import type { CompletedAnswer, NonStreamCompleter } from './non-stream-completer.js';

/**
 * Standalone mode: the same fold the workers run, in the gateway process, no queue. An error that
 * is no upstream failure (a bug of ours) comes out of `complete` unchanged, for `sendError`'s 500
 * with its stack; an upstream failure is an error answer, its detail (addresses included) logged
 * here rather than sent.
 */
export class InProcessCompleter implements NonStreamCompleter {
  readonly mode = 'standalone' as const;
  private readonly deadlines = new Deadlines<AbortController>((call, timeoutMs) =>
    call.abort(deadlineError('deadline_exceeded', timeoutMs)),
  );

  constructor(
    private readonly upstreams: UpstreamSet,
    private readonly settings: NonStreamSettings,
    private readonly observe: UpstreamObserver,
    private readonly logger: Logger,
  ) {}

  async complete(
    api: CompletionApi,
    request: FoldRequest,
    timeoutMs: number,
    departure: ClientDeparture,
  ): Promise<CompletedAnswer> {
    if (departure.left) throw new ClientGoneError();
    // Looked up again: a reload since the route's check may have dropped the model.
    const group = this.upstreams.groupFor(request.body.model);
    if (group === undefined) throw errors.modelNotFound(request.body.model);
    const call = new AbortController();
    const stopListening = departure.onLeave((reason) => call.abort(reason));
    this.deadlines.add(call, timeoutMs);
    try {
      const answer = await completeFromStream(group, this.settings, api, request, call.signal, this.observe);
      if (answer.failure !== undefined)
        this.logger.warn(
          { requestId: request.requestId, upstream: answer.upstream ?? undefined, failure: answer.failure },
          'upstream failed',
        );
      return answer;
    } finally {
      this.deadlines.remove(call);
      stopListening();
    }
  }

  async close(): Promise<void> {
    this.deadlines.clear();
  }
}

import {
  completeFromStream,
  type GatewayConfig,
  type NonStreamSettings,
  nonStreamSettings,
  type UpstreamObserver,
  type UpstreamSet,
  withDeadline,
} from '@openai-proxy/shared';
import type { CompletedAnswer, NonStreamCompleter, NonStreamJob } from './non-stream-completer.js';

/** Standalone mode: the same fold the workers run, in the gateway process, no queue. */
export class InProcessCompleter implements NonStreamCompleter {
  readonly mode = 'standalone' as const;
  private readonly settings: NonStreamSettings;
  private readonly timeoutMs: number;

  constructor(
    private readonly upstreams: UpstreamSet,
    config: GatewayConfig,
    private readonly observe?: UpstreamObserver,
  ) {
    this.settings = nonStreamSettings(config);
    this.timeoutMs = config.REQUEST_TIMEOUT_MS;
  }

  async complete(job: NonStreamJob, clientSignal: AbortSignal): Promise<CompletedAnswer> {
    const { signal, dispose } = withDeadline(clientSignal, this.timeoutMs, 'request timeout');
    try {
      const answer = await completeFromStream(
        this.upstreams,
        this.settings,
        { ...job, signal },
        this.observe,
      );
      return {
        status: answer.status,
        body: answer.body,
        upstream: answer.upstream,
        model: answer.model,
        usage: answer.usage,
      };
    } finally {
      dispose();
    }
  }

  isReady(): boolean {
    return true;
  }

  async sampleQueue(): Promise<Record<string, number>> {
    return {};
  }

  async close(): Promise<void> {}
}

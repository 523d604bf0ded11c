import { setTimeout as sleep } from 'node:timers/promises';
import {
  asBackgroundObject,
  eventData,
  type FoldedAnswer,
  isObject,
  type JsonObject,
  type Logger,
  type StreamFolder,
} from '@openai-proxy/shared';
import type { BackgroundStore } from '@openai-proxy/shared/redis';

const LIFECYCLE = new Set(['response.created', 'response.queued', 'response.in_progress']);

/** How often, and how long apart, a failed append is tried again before its events are given up. */
const APPEND_TRIES = 25;
const APPEND_RETRY_MS = 200;

/**
 * Keeps a background response's events as its upstream streams them: each event the fold takes is
 * also written to the store, with our id in its `response` and the store's next sequence number.
 * Writes go out one batch at a time, as the previous one returns: a fast stream makes few, large
 * writes. Once the response is no longer in progress (cancelled, deleted), nothing more is kept.
 */
export class EventRecorder {
  /** The latest `response` a lifecycle event carried, as ours: what a failure is reported on. */
  latest: JsonObject | undefined;
  /** The type of the last event kept (`response.completed`, say). */
  lastType: string | undefined;
  private pending: string[] = [];
  private writing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: BackgroundStore,
    private readonly responseId: string,
    private readonly logger: Logger,
  ) {}

  /** `folder`, with every event it takes kept too. */
  recording<A extends FoldedAnswer>(folder: StreamFolder<A>): StreamFolder<A> {
    return {
      take: (data) => {
        this.keep(data);
        return folder.take(data);
      },
      finish: () => folder.finish(),
    };
  }

  /** Resolves once every event taken so far is written (or given up). */
  async written(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  private keep(data: string): void {
    if (this.stopped || data.length < 2 || data.trim() === '[DONE]') return;
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return; // the fold refuses it: the failure is what the log ends with
    }
    if (!isObject(event) || typeof event.type !== 'string') return;
    if (isObject(event.response)) {
      const response = asBackgroundObject(event.response, this.responseId);
      event.response = response;
      if (LIFECYCLE.has(event.type)) this.latest = response;
    }
    this.lastType = event.type;
    this.pending.push(eventData(event));
    this.writing ??= this.writeAll();
  }

  private async writeAll(): Promise<void> {
    // After the current chunk's events: one write for all of them.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0 && !this.stopped) {
      const batch = this.pending;
      this.pending = [];
      const kept = await this.append(batch);
      if (!kept) this.stopped = true;
    }
    this.pending = [];
    this.writing = undefined;
  }

  /** True when written; false once the response is no longer in progress or Redis stayed away. */
  private async append(batch: string[]): Promise<boolean> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.store.append(this.responseId, batch);
      } catch (error) {
        if (attempt >= APPEND_TRIES) {
          this.logger.error(
            { err: error, responseId: this.responseId, events: batch.length },
            'could not keep the events of a background response; its stream misses them',
          );
          return false;
        }
        await sleep(APPEND_RETRY_MS);
      }
    }
  }
}

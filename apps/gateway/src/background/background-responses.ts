import {
  type BackgroundRecord,
  type CompletionJobData,
  type FoldRequest,
  failedResponse,
  isFinalStatus,
  type JsonObject,
  lifecycleEvent,
  newBackgroundId,
  ProxyError,
  queuedResponse,
  responseSoFar,
  type StoredEvent,
} from '@openai-proxy/shared';
import type { BackgroundStore } from '@openai-proxy/shared/redis';
import type { BackgroundEventFeed } from './background-event-feed.js';

/** What the queue does for background responses (the queued completer provides it). */
export interface BackgroundQueue {
  /** Admits and adds the job (its id is the response's), or throws the ProxyError that refuses it. */
  add(jobId: string, data: CompletionJobData): Promise<void>;
  /** Withdraws it: removed if it waits, aborted by its worker if it runs. */
  cancel(jobId: string): Promise<void>;
  /** Whether its job still exists (waiting, delayed or running). */
  exists(jobId: string): Promise<boolean>;
}

/** How long a stream waits for news of its response before it looks by itself. */
const LOOK_AGAIN_MS = 1_000;
/** Looks without news before a stream asks whether the response's job still exists. */
const QUIET_ROUNDS_BEFORE_LOST_CHECK = 3;

const notFound = (id: string) => new ProxyError('not_found', `No response with id '${id}' was found.`);

/**
 * OpenAI's background mode for every upstream, in queue mode: a response is a job in the worker
 * farm (at background priority) and a record in Redis (background-store.ts) that outlives any
 * gateway. This is the gateway's side: create, retrieve (with the output so far), follow its
 * events, cancel, delete. A response belongs to the gateway key that created it (`owner`, a
 * digest; '' without keys): for any other key it does not exist.
 */
export class BackgroundResponses {
  constructor(
    private readonly store: BackgroundStore,
    private readonly queue: BackgroundQueue,
    private readonly feed: BackgroundEventFeed,
    private readonly ttlSeconds: number,
  ) {}

  /** Keeps the response, queues its generation and returns the `queued` object. */
  async create(
    request: FoldRequest,
    body: Readonly<Record<string, unknown>>,
    owner: string,
  ): Promise<string> {
    const id = newBackgroundId();
    const acceptedAt = Date.now();
    const object = queuedResponse(id, body, Math.floor(acceptedAt / 1000));
    const serialised = JSON.stringify(object);
    await this.store.create(id, owner, serialised, lifecycleEvent('response.queued', object));
    try {
      await this.queue.add(id, {
        request,
        replyTo: '',
        gatewayId: '',
        // Its generation may take as long as it is kept.
        deadline: acceptedAt + this.ttlSeconds * 1000,
        acceptedAt,
        workClass: 'background',
        background: { responseId: id },
      });
    } catch (error) {
      await this.store.remove(id).catch(() => undefined);
      throw error;
    }
    return serialised;
  }

  /** The response now: its final object, or the object so far with its status. */
  async retrieve(id: string, owner: string): Promise<string> {
    const record = await this.owned(id, owner);
    if (keepsFinalObject(record)) return record.object;
    return JSON.stringify(await this.current(id, record));
  }

  /** Cancels a response that has not ended (its upstream call is aborted); an ended one is returned as it is. */
  async cancel(id: string, owner: string): Promise<{ object: string; cancelled: boolean }> {
    await this.owned(id, owner);
    const change = await this.store.finish(id, 'cancelled', undefined, undefined);
    const cancelled = change?.changed === true;
    if (cancelled) await this.queue.cancel(id);
    return { object: await this.retrieve(id, owner), cancelled };
  }

  /** Deletes it and its events (cancelling its generation first if it runs). */
  async remove(id: string, owner: string): Promise<string> {
    await this.owned(id, owner);
    const status = await this.store.remove(id);
    if (status === undefined) throw notFound(id);
    if (!isFinalStatus(status)) await this.queue.cancel(id);
    return JSON.stringify({ id, object: 'response', deleted: true });
  }

  /** Checks that `id` is `owner`'s (404 otherwise, as if it did not exist), before a stream starts. */
  async check(id: string, owner: string): Promise<void> {
    await this.owned(id, owner);
  }

  /**
   * Hands `write` the events after sequence number `after` (-1: all), then each new one as it is
   * kept, until the response has ended and every event went out, it is deleted, or `signal` aborts.
   */
  async follow(
    id: string,
    after: number,
    signal: AbortSignal,
    write: (events: StoredEvent[]) => Promise<void>,
  ): Promise<void> {
    let news = true;
    let wake: (() => void) | undefined;
    const unwatch = this.feed.watch(id, () => {
      news = true;
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      let cursor = after;
      let quiet = 0;
      while (!signal.aborted) {
        news = false;
        // The status first: events kept before it said "ended" are all read below.
        const record = await this.store.read(id);
        for (;;) {
          const events = await this.store.events(id, cursor);
          if (events.length === 0) break;
          quiet = 0;
          await write(events);
          cursor = events[events.length - 1]?.sequence ?? cursor;
          if (signal.aborted) return;
        }
        if (record === undefined || isFinalStatus(record.status)) return;
        // Quiet for a while: is anyone still generating it?
        if (quiet >= QUIET_ROUNDS_BEFORE_LOST_CHECK) {
          quiet = 0;
          if (await this.failIfLost(id, record)) continue;
        }
        if (!news) {
          quiet += 1;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, LOOK_AGAIN_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      unwatch();
    }
  }

  counts(): Promise<Record<string, number>> {
    return this.store.counts();
  }

  private async owned(id: string, owner: string): Promise<BackgroundRecord> {
    const record = await this.store.read(id);
    if (record === undefined || record.owner !== owner) throw notFound(id);
    return record;
  }

  /** The object of a response that has not ended (or was cancelled): its output so far. */
  private async current(id: string, record: BackgroundRecord): Promise<JsonObject> {
    const ended = (await this.failIfLost(id, record)) ? await this.store.read(id) : record;
    if (ended === undefined) throw notFound(id);
    if (keepsFinalObject(ended)) return JSON.parse(ended.object) as JsonObject;
    return responseSoFar(
      JSON.parse(ended.object) as JsonObject,
      await this.store.events(id, -1, 100_000),
      ended.status,
    );
  }

  /**
   * A response whose job is gone while it never ended (Redis lost the job, or BullMQ gave it up)
   * fails now, `job_lost`, rather than stay `in_progress` until it expires. True when it ended
   * since `record` was read, this way or another.
   */
  private async failIfLost(id: string, record: BackgroundRecord): Promise<boolean> {
    if (isFinalStatus(record.status) || (await this.queue.exists(id))) return false;
    const events = await this.store.events(id, -1, 100_000);
    const failed = failedResponse(
      responseSoFar(JSON.parse(record.object) as JsonObject, events, record.status),
      {
        code: 'job_lost',
        message:
          'The generation was lost in the worker farm (its job is gone from Redis); create the response again.',
      },
    );
    await this.store.finish(id, 'failed', JSON.stringify(failed), lifecycleEvent('response.failed', failed));
    return true;
  }
}

/** Completed, incomplete and failed responses keep their final object; a cancelled one is its output so far. */
function keepsFinalObject(record: BackgroundRecord): boolean {
  return isFinalStatus(record.status) && record.status !== 'cancelled';
}

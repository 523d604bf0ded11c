import type { CompletionJobData, Logger } from '@openai-proxy/shared';
import { type Job, type Processor, WaitingError, Worker, type WorkerOptions } from 'bullmq';
import { JobHandedBackError } from './hand-back-error.js';

/**
 * A BullMQ Worker that can stop cleanly: it knows which jobs it holds, stops taking new ones,
 * and hands back to the queue the ones it will not finish.
 *
 * It holds a job from the moment it takes it ('active') until BullMQ is done with it, its outcome
 * recorded in Redis or handed back. That is what a shutdown waits for. Waiting only for the
 * processor would leave a job whose answer was sent active in Redis, where the stalled-job check
 * gives it to another worker and the upstream is called twice.
 */
export class DrainableWorker extends Worker<CompletionJobData> {
  private readonly held = new Set<string>();
  private readonly drainWaiters: Array<() => void> = [];
  private stopping = false;
  private stranded = 0;

  constructor(
    queue: string,
    processor: Processor<CompletionJobData>,
    options: WorkerOptions,
    private readonly logger: Logger,
  ) {
    super(queue, processor, options);
    this.on('active', (job) => this.held.add(String(job.id)));
  }

  /**
   * Takes no job from now on. `pause` keeps the fetch loop from starting another fetch, but not
   * one already blocked waiting for a job (BZPOPMIN on the queue's marker): BullMQ checks
   * `paused` only before it blocks, so that fetch would wake for the next job added, move it to
   * active and run it. Cutting the blocking connection ends that wait with nothing taken, and
   * leaves the marker to the workers still running. Not `close()`: it waits for that connection
   * to end, and one between reconnect attempts never does.
   */
  async stopTaking(): Promise<void> {
    this.stopping = true;
    await this.pause(true);
    await this.backend.disconnectBlocking(false).catch(() => undefined);
  }

  /** BullMQ's own step per job: runs the processor, then records the outcome (with its retries). */
  override async processJob(job: Job<CompletionJobData>, token: string, fetchNextCallback?: () => boolean) {
    try {
      return await super.processJob(job, token, fetchNextCallback);
    } finally {
      this.release(String(job.id));
    }
  }

  /** The processor's call, or the job handed back: taken too late, or aborted at the grace's end. */
  protected override async callProcessJob(
    job: Job<CompletionJobData>,
    token: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    // Taken in the last instant before the stop (a fetch already past its wait, or the next job
    // BullMQ hands over with a completion): it goes back without being started.
    if (this.stopping) return this.handBack(job, token);
    try {
      return await super.callProcessJob(job, token, signal);
    } catch (error) {
      if (error instanceof JobHandedBackError) return this.handBack(job, token);
      throw error;
    }
  }

  /** The ids of the jobs this worker holds now. */
  heldJobIds(): Iterable<string> {
    return this.held.values();
  }

  get jobsInFlight(): number {
    return this.held.size;
  }

  /** Jobs that could not be handed back: they stay active until the stalled-job check returns them. */
  get jobsStranded(): number {
    return this.stranded;
  }

  /** Resolves when this worker holds no job: at once when it holds none. */
  noJobInFlight(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** True once this worker holds no job, false when `ms` pass first. */
  async noJobInFlightWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([this.noJobInFlight().then(() => true), timeUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Moves the job from active back to wait, first in line, and tells BullMQ so (a WaitingError is
   * no failure: nothing is recorded, no 'failed' event, nothing answered). A job that cannot be
   * moved (Redis away, its lock lost) stays active for the stalled-job check.
   */
  private async handBack(job: Job<CompletionJobData>, token: string): Promise<never> {
    try {
      await job.moveToWait(token);
      this.logger.info({ jobId: job.id }, 'job handed back to the queue');
    } catch (error) {
      this.stranded += 1;
      this.logger.warn(
        { err: error, jobId: job.id },
        'could not hand a job back to the queue; it returns through the stalled-job check',
      );
    }
    throw new WaitingError();
  }

  private release(id: string): void {
    this.held.delete(id);
    if (this.held.size > 0) return;
    for (const wake of this.drainWaiters.splice(0)) wake();
  }
}

import { deadlineError } from '@openai-proxy/shared';
import { JobHandedBackError } from './hand-back-error.js';

/** Why a job's upstream call was aborted: its client is gone. */
export class JobCancelledError extends Error {
  constructor(readonly jobId: string) {
    super(`Job ${jobId} was cancelled: its client is gone.`);
    this.name = 'JobCancelledError';
  }
}

const REMEMBER_CANCELLED_MS = 60_000;
/** How often running jobs are checked against their deadlines. */
const DEADLINE_SWEEP_MS = 1_000;

interface RunningJob {
  controller: AbortController;
  /** Epoch ms after which nobody waits for the answer. */
  deadline: number;
  timeoutMs: number;
}

/**
 * The abort switches of the jobs this process is running. Cancels are broadcast to every
 * worker; one may arrive just before its job starts here, so recent cancels are remembered
 * for a minute and checked when a job registers. Deadlines are kept by one sweep a second for
 * all jobs, not a timer each: the gateway answers its client at the deadline itself and
 * broadcasts a cancel, so this sweep only stops work whose gateway is gone. A stopping worker
 * whose grace ran out hands every job back: their calls are aborted, and so is any job that
 * registers after that.
 */
export class CancelRegistry {
  private readonly running = new Map<string, RunningJob>();
  private readonly recentlyCancelled = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  private handingBack = false;

  constructor() {
    this.sweeper = setInterval(() => this.sweepDeadlines(Date.now()), DEADLINE_SWEEP_MS);
    this.sweeper.unref();
  }

  /** The job's abort signal: aborted by a cancel or once `deadline` (epoch ms) passes. */
  register(jobId: string, deadline: number, startedAt: number): AbortSignal {
    const controller = new AbortController();
    if (this.recentlyCancelled.has(jobId)) controller.abort(new JobCancelledError(jobId));
    else if (this.handingBack) controller.abort(new JobHandedBackError(jobId));
    this.running.set(jobId, { controller, deadline, timeoutMs: deadline - startedAt });
    return controller.signal;
  }

  release(jobId: string): void {
    this.running.delete(jobId);
  }

  cancel(jobId: string): void {
    const now = Date.now();
    this.recentlyCancelled.set(jobId, now);
    for (const [id, at] of this.recentlyCancelled) {
      if (now - at <= REMEMBER_CANCELLED_MS) break;
      this.recentlyCancelled.delete(id);
    }
    this.running.get(jobId)?.controller.abort(new JobCancelledError(jobId));
  }

  /** Aborts every running job, and every job that registers from now on, to hand it back. */
  handBackAll(): void {
    this.handingBack = true;
    for (const [jobId, job] of this.running) {
      if (!job.controller.signal.aborted) job.controller.abort(new JobHandedBackError(jobId));
    }
  }

  get activeCount(): number {
    return this.running.size;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweepDeadlines(now: number): void {
    for (const job of this.running.values()) {
      if (now >= job.deadline && !job.controller.signal.aborted)
        job.controller.abort(deadlineError('deadline_exceeded', job.timeoutMs));
    }
  }
}

/** Why a job's upstream call was aborted: its client is gone. */
export class JobCancelledError extends Error {
  constructor(readonly jobId: string) {
    super(`Job ${jobId} was cancelled: its client is gone.`);
    this.name = 'JobCancelledError';
  }
}

const REMEMBER_CANCELLED_MS = 60_000;

/**
 * The abort switches of the jobs this process is running. Cancels are broadcast to every
 * worker; one may arrive just before its job starts here, so recent cancels are remembered
 * for a minute and checked when a job registers.
 */
export class CancelRegistry {
  private readonly running = new Map<string, AbortController>();
  private readonly recentlyCancelled = new Map<string, number>();

  register(jobId: string): AbortController {
    const controller = new AbortController();
    if (this.recentlyCancelled.has(jobId)) controller.abort(new JobCancelledError(jobId));
    this.running.set(jobId, controller);
    return controller;
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
    this.running.get(jobId)?.abort(new JobCancelledError(jobId));
  }

  get activeCount(): number {
    return this.running.size;
  }
}

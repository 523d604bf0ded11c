import type { QueueNames } from '@openai-proxy/shared';
import { type RedisClient, workersAlive } from '@openai-proxy/shared/redis';

/** How often the live workers are counted. */
const SAMPLE_MS = 500;

/**
 * Whether the worker farm is there, from the workers' heartbeats, counted twice a second. After
 * `refuseAfterMs` without a live worker, workers are missing (new requests are refused). The
 * gateway's start counts as a sighting, so workers starting with it have that long to come; a
 * gateway that has seen none since it started calls `onNoneCame` at each sample past that time
 * (nobody may ever come, so its queued jobs are refused too). `refuseAfterMs` 0: not watched.
 */
export class WorkerWatch {
  private workers = 0;
  private lastSeenAt = Date.now();
  private sawOne = false;
  private readonly timer: NodeJS.Timeout;
  private readonly countWorkers: () => Promise<number>;

  constructor(
    private readonly commands: RedisClient,
    names: QueueNames,
    private readonly refuseAfterMs: number,
    private readonly onNoneCame: (silentForMs: number) => void,
  ) {
    this.countWorkers = workersAlive(commands, names);
    this.timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  /** Live workers at the last sample; undefined when workers are not watched. */
  live(): number | undefined {
    return this.refuseAfterMs > 0 ? this.workers : undefined;
  }

  /** How long no worker has been alive, once that is longer than `refuseAfterMs`; else undefined. */
  missingFor(now = Date.now()): number | undefined {
    const silentFor = now - this.lastSeenAt;
    return this.refuseAfterMs > 0 && silentFor > this.refuseAfterMs ? silentFor : undefined;
  }

  async sample(): Promise<void> {
    if (this.refuseAfterMs === 0 || this.commands.status !== 'ready') return;
    try {
      this.workers = await this.countWorkers();
    } catch {
      // Redis went away between the check and the call; the next sample will tell.
      return;
    }
    if (this.workers > 0) {
      this.lastSeenAt = Date.now();
      this.sawOne = true;
      return;
    }
    const silentFor = this.missingFor();
    if (!this.sawOne && silentFor !== undefined) this.onNoneCame(silentFor);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { queueNames } from '@openai-proxy/shared';
import { type AppProcess, startApp } from '@openai-proxy/test-support';
import { Queue } from 'bullmq';
import { eventually } from '../http.js';

/**
 * Settings every chaos scenario shares: a deadline short enough that a lost request shows as
 * a 504 within the test, and stalled-job recovery in a few seconds instead of fifteen. The lock
 * is 3 s, not 1 s: on a shared 2-core machine (load average 16 measured) a worker's event loop
 * was starved long enough for a 1 s lock to lapse while the worker was alive ("could not renew
 * lock"); that spurious stall plus the real kill is two stalls, and with maxStalledCount 1
 * BullMQ then fails the job (502 job_failed).
 */
export function chaosEnv(
  name: string,
  redisUrl: string,
  upstreams: readonly MockUpstream[],
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    UPSTREAM_API_URL: upstreams.map((upstream) => upstream.chatUrl).join(','),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `{chaos-${name}-${process.pid}}`,
    REQUEST_TIMEOUT_MS: '20000',
    WORKER_STALLED_INTERVAL_MS: '500',
    WORKER_LOCK_DURATION_MS: '3000',
    RESULT_POLL_INTERVAL_MS: '500',
    SHUTDOWN_GRACE_MS: '5000',
    ...extra,
  };
}

/** The client waits past the gateway's deadline: a request still unanswered then was lost. */
export const clientTimeoutFor = (env: Record<string, string>) => Number(env.REQUEST_TIMEOUT_MS) + 10_000;

/** The processes a test started, so afterAll can kill what is left of them. */
export class Processes {
  private readonly started: AppProcess[] = [];

  async start(kind: 'gateway' | 'worker', env: Record<string, string>): Promise<AppProcess> {
    const app = await startApp(kind, env);
    this.started.push(app);
    return app;
  }

  /** Warnings and errors every started process logged (pino levels 40 and up), for a failure message. */
  problems(): string[] {
    return this.started.flatMap((app) => app.output.filter((line) => /"level":(4|5|6)0/.test(line)));
  }

  async killAll(): Promise<void> {
    await Promise.all(this.started.splice(0).map((app) => app.stop('SIGKILL')));
  }
}

/** Requests the upstream has begun and not yet finished or lost: jobs a worker is folding now. */
export const inFlightAt = (upstream: MockUpstream) =>
  upstream.stats.requests - upstream.stats.completed - upstream.stats.aborted;

/** Waits until no job of this prefix is waiting, delayed, prioritized or active. */
export async function waitForEmptyQueue(redisUrl: string, prefix: string, timeoutMs = 15_000): Promise<void> {
  const names = queueNames(prefix);
  const queue = new Queue(names.queue, { connection: { url: redisUrl }, prefix: names.prefix });
  try {
    await eventually(
      async () => {
        const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active');
        return Object.values(counts).every((count) => count === 0);
      },
      timeoutMs,
      100,
    );
  } finally {
    await queue.close();
  }
}

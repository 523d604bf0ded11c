import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { Job } from 'bullmq';
import { showFailureWithoutDirectories } from './job-failure-view.js';

/**
 * bull-board's BullMQ adapter, with every job it hands to the dashboard (lists, one job, a flow)
 * showing its failure without the server's directories. bull-board formats a job's data through
 * `setFormatter`, but has no formatter for `failedReason` and `stacktrace`: every route that shows
 * a job fetches it through `getJob` or `getJobs`, so those two are where it is done.
 */
export class BoardQueueAdapter extends BullMQAdapter {
  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    if (job) showFailureWithoutDirectories(job);
    return job;
  }

  override async getJobs(...range: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    const jobs = await super.getJobs(...range);
    for (const job of jobs) showFailureWithoutDirectories(job);
    return jobs;
  }
}

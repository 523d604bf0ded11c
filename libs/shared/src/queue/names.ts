/**
 * Every Redis key and channel the proxy uses, built from one prefix. The default prefix
 * `{oaip}` is a Redis Cluster hash tag, so all keys of one deployment live in one slot and
 * BullMQ's multi-key scripts run on a cluster too.
 */
export interface QueueNames {
  prefix: string;
  queue: string;
  /** The channel one gateway process listens on for the answers to its jobs. */
  resultsChannel(gatewayId: string): string;
  /** Where a job's answer is kept for a while, for a gateway that missed the message. */
  resultKey(jobId: string): string;
  /** Broadcast to every worker: abort this job, its client is gone. */
  cancelChannel: string;
  /** The live worker processes, each scored by its last heartbeat (worker-presence.ts). */
  workersKey: string;
  /** The jobs workers hold, each scored by the last heartbeat that named it (worker-presence.ts). */
  heldJobsKey: string;
  /** The gateway processes, each scored by its last heartbeat (gateway-presence.ts). */
  gatewaysKey: string;
  /** Jobs a gateway admitted and is adding to the queue, counted with the queue's depth (job-admission.ts). */
  admissionsKey: string;
  /** A background response: its owner, status and object (background-store.ts). */
  backgroundKey(responseId: string): string;
  /** A background response's events, as streamed, each at the stream ID `0-<sequence_number + 1>`. */
  backgroundEventsKey(responseId: string): string;
  /** Where the worker says a background response has new events or a new status. */
  backgroundChannel(responseId: string): string;
  /** The background responses not yet finished, each scored by its creation (epoch ms). */
  backgroundActiveKey: string;
  /** How many background responses were created and how many ended in each final status. */
  backgroundCountsKey: string;
  /** A file of `/v1/files`: its object and owner (file-store.ts). */
  fileKey(fileId: string): string;
  /** One owner's files, scored by creation. */
  filesOfOwnerKey(owner: string): string;
  /** A batch: status, owner, spec, times, counts (batch-store.ts). */
  batchKey(batchId: string): string;
  /** A batch's line results, by line, until its output files are written. */
  batchResultsKey(batchId: string): string;
  /** One owner's batches, scored by creation. */
  batchesOfOwnerKey(owner: string): string;
  /** How many batches were created and ended in each final status. */
  batchCountsKey: string;
  /** The batches not yet ended, scored by creation. */
  batchActiveKey: string;
}

/** One queue per prefix: two deployments that share a Redis differ by their prefix. */
const QUEUE = 'completions';

export function queueNames(prefix: string): QueueNames {
  return {
    prefix,
    queue: QUEUE,
    resultsChannel: (gatewayId) => `${prefix}:results:${gatewayId}`,
    resultKey: (jobId) => `${prefix}:result:${jobId}`,
    cancelChannel: `${prefix}:cancel`,
    workersKey: `${prefix}:workers`,
    heldJobsKey: `${prefix}:held-jobs`,
    gatewaysKey: `${prefix}:gateways`,
    admissionsKey: `${prefix}:admissions`,
    backgroundKey: (id) => `${prefix}:bg:${id}`,
    backgroundEventsKey: (id) => `${prefix}:bg:${id}:events`,
    backgroundChannel: (id) => `${prefix}:bg-events:${id}`,
    backgroundActiveKey: `${prefix}:bg:active`,
    backgroundCountsKey: `${prefix}:bg:counts`,
    fileKey: (id) => `${prefix}:file:${id}`,
    filesOfOwnerKey: (owner) => `${prefix}:files:${owner}`,
    batchKey: (id) => `${prefix}:batch:${id}`,
    batchResultsKey: (id) => `${prefix}:batch:${id}:results`,
    batchesOfOwnerKey: (owner) => `${prefix}:batches:${owner}`,
    batchCountsKey: `${prefix}:batch:counts`,
    batchActiveKey: `${prefix}:batch:active`,
  };
}

/**
 * Why a job's upstream call was aborted: its worker is stopping and the shutdown's grace ran
 * out. The job goes back to the queue for the next worker; nothing is answered for this attempt
 * (the gateway keeps waiting on the same reply channel).
 */
export class JobHandedBackError extends Error {
  constructor(readonly jobId: string) {
    super(`Job ${jobId} was handed back to the queue: its worker is stopping.`);
    this.name = 'JobHandedBackError';
  }
}

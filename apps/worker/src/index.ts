/** The worker farm as a library, for tests and embedding; `main.ts` is the process. */
export { loadWorkerConfig, type WorkerConfig, workerSchema, workerVars } from './config.js';
export { type RunningWorker, startWorkerChild } from './worker-child.js';

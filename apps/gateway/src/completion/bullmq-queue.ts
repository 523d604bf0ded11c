import { createRequire } from 'node:module';
import type { Queue as BullQueue } from 'bullmq';

/**
 * BullMQ's `Queue` class, loaded alone. The package's index also loads its Worker, FlowProducer,
 * PostgreSQL backend and Bun, Valkey GLIDE and node-redis clients, none of which a gateway uses:
 * 8.5 MB more resident memory in an idle process (measured with a queue constructed and
 * connected, after V8's idle collection). BullMQ declares no `exports`, so the file is reachable;
 * the type is the index's own, and every queue-mode test fails if a release moves the file.
 */
const require = createRequire(import.meta.url);
const { Queue } = require('bullmq/dist/cjs/classes/queue.js') as { Queue: typeof BullQueue };

export { Queue };
export type Queue = BullQueue;

export * from './config/index.js';
export * from './observability/logger.js';
export * from './observability/metrics.js';
export * from './observability/worker-metrics.js';
export * from './openai/index.js';
export * from './queue/index.js';
export * from './upstream/index.js';
export * from './process/index.js';

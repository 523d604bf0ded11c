export * from './call-upstream.js';
export * from './complete-from-stream.js';
export * from './deadline.js';
export * from './forward-headers.js';
export * from './settings-from-config.js';
export * from './upstream.js';
export * from './upstream-health.js';
export * from './upstream-set.js';

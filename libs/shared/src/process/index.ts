export * from './cluster-primary.js';
export * from './process-policy.js';

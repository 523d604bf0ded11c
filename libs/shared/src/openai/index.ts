export * from './chat-fold.js';
export * from './completion-header.js';
export * from './errors.js';
export * from './fold-stream.js';
export * from './sse-reader.js';
export * from './text-fold.js';
export type * from './types.js';

export * from './job-protocol.js';
export * from './names.js';
export * from './redis-connection.js';

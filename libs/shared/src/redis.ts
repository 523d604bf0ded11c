/**
 * The Redis side of the shared code, apart from the main index so that a process without a
 * queue (a standalone gateway) never loads ioredis: connections by role, and worker presence.
 */
export { createRedis, type RedisRole } from './queue/redis-connection.js';
export {
  ALIVE_FOR_MS,
  HEARTBEAT_MS,
  liveWorkerIds,
  startHeartbeat,
  workersAlive,
} from './queue/worker-presence.js';

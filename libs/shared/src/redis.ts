/**
 * The Redis side of the shared code, apart from the main index so that a process without a
 * queue (a standalone gateway) never loads ioredis: connections by role and topology, pub/sub
 * that suits the topology, and worker presence.
 */
export { BackgroundStore } from './background/background-store.js';
export { BatchStore } from './batch/batch-store.js';
export { FileStore } from './batch/file-store.js';
export {
  type CapacityMember,
  type CapacitySnapshot,
  CapacityStore,
  CONCURRENCY_POLL_MS,
  type Reservation,
} from './capacity/capacity-store.js';
export { ChannelPubSub, channelPubSub } from './queue/channel-pub-sub.js';
export { gatewayWatch, startGatewayHeartbeat } from './queue/gateway-presence.js';
export {
  createRedis,
  type RedisClient,
  type RedisRole,
  usesShardedPubSub,
} from './queue/redis-connection.js';
export { OUTAGE_LOG_INTERVAL_MS, RedisOutageLog } from './queue/redis-outage-log.js';
export {
  ALIVE_FOR_MS,
  HEARTBEAT_MS,
  type Heartbeat,
  liveWorkerIds,
  startHeartbeat,
  workersAlive,
} from './queue/worker-presence.js';

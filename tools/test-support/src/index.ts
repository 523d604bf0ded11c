export {
  type AppName,
  type AppProcess,
  runAppToExit,
  type StartAppOptions,
  startApp,
} from './app-process.js';
export { freePort } from './free-port.js';
export { answers200 } from './http-ready.js';
export { type InProcessGateway, startInProcessGateway } from './in-process-gateway.js';
export type { LineMatcher } from './printed-lines.js';
export { redisCli } from './redis-cli.js';
export {
  type RedisClusterOptions,
  type RedisNodeProcess,
  startRedisCluster,
  type TestRedisCluster,
} from './redis-cluster.js';
export {
  type RedisSentinelOptions,
  startRedisSentinelGroup,
  type TestRedisSentinelGroup,
} from './redis-sentinel.js';
export { type RedisOptions, startRedis, type TestRedis } from './redis-server.js';
export {
  runToExit,
  type SpawnedProcess,
  type SpawnOptions,
  spawnProcess,
  waitUntil,
} from './spawned-process.js';
export {
  type GatewayOf,
  type GatewaySpec,
  type Stack,
  type StackOptions,
  startStack,
  type WorkerSpec,
} from './stack.js';
export { makeTlsCertificate, type TlsCertificate } from './tls-certificate.js';

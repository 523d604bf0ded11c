/**
 * What both apps share, and nothing else: configuration helpers and the common variables, the
 * fold, OpenAI-shaped errors, upstream calls, the job protocol and Redis names, logging and the
 * pieces of metrics both sides use, and process policy. Redis connections are a separate entry,
 * `@openai-proxy/shared/redis`, so a standalone gateway never loads ioredis.
 */

export {
  type ApiRegistry,
  apiRegistry,
  BUILT_IN_API_REGISTRY,
  BUILT_IN_APIS,
  errorDialectOf,
} from './apis/built-in-apis.js';
export { CHAT_ROLES, chatCompletionsApi } from './apis/chat-completions-api.js';
export { type CompletionApi, checkRequest } from './apis/completion-api.js';
export { completionsApi } from './apis/completions-api.js';
export { messagesApi } from './apis/messages-api.js';
export { responsesApi } from './apis/responses-api.js';
export {
  asBackgroundObject,
  failedResponse,
  failureOfErrorBody,
  isBackgroundId,
  lifecycleEvent,
  newBackgroundId,
  queuedResponse,
  type ResponseFailure,
  responseSoFar,
} from './background/background-objects.js';
export {
  type BackgroundRecord,
  type BackgroundStatus,
  eventData,
  isFinalStatus,
  type StatusChange,
  type StoredEvent,
} from './background/background-store.js';
export {
  type BatchInputError,
  type BatchObject,
  type BatchSpec,
  type BatchStatus,
  type LineEnd,
  newBatchId,
} from './batch/batch-store.js';
export { FileMissingError, type FileStorage, FileTooLargeError } from './batch/file-storage.js';
export { type FileObject, type ListPage, newFileId, page, storageKeyOf } from './batch/file-store.js';
export { type FileStorageSetting, openFileStorage } from './batch/open-file-storage.js';
export {
  capacityExhausted,
  type GroupReservation,
  hasCapacityLimits,
  limitsLearnt,
  reserveInGroup,
} from './capacity/group-reservation.js';
export {
  type LearnedLimits,
  parseRateLimitHeaders,
} from './capacity/rate-limit-headers.js';
export { estimatedTokens } from './capacity/request-cost.js';
export { QUEUE_PRIORITY, type WorkClass, workClassOf } from './capacity/work-class.js';
export type { ChatCompletion, TextCompletion } from './chat/types.js';
export {
  boolVar,
  intVar,
  listVar,
  logLevelVar,
  optionalStringVar,
  stringVar,
} from './config/env-schema.js';
export { ConfigError, type Env, loadConfig, loadConfigOrExit } from './config/load-config.js';
export {
  describeTopology,
  type RedisNode,
  type RedisSettings,
  type RedisTopology,
  redisTopology,
} from './config/redis-topology.js';
export { commonVars, redisVars, type UpstreamConfig, upstreamVars } from './config/schema.js';
export { type Answer, type AnswerUsage, errorAnswer } from './fold/answer.js';
export { type ErrorDialect, openAIErrorDialect, upstreamBodyIn } from './fold/error-dialect.js';
export {
  asProxyError,
  ERROR_CODES,
  type ErrorCode,
  errors,
  internalError,
  isProxyError,
  type OpenAIErrorBody,
  ProxyError,
  type UpstreamReport,
  UpstreamReportedError,
} from './fold/errors.js';
export { isObject, type JsonObject } from './fold/json-merge.js';
export type {
  CompletionKind,
  FoldedAnswer,
  StreamFolder,
} from './fold/stream-folder.js';
export { anthropicErrorDialect } from './messages/anthropic-error-dialect.js';
export {
  type AnthropicErrorBody,
  type AnthropicMessage,
  proxyErrorToAnthropic,
} from './messages/index.js';
export { DURATION_BUCKETS } from './observability/buckets.js';
export { trackUpstreamConnections } from './observability/connection-metrics.js';
export { createLogger, type Logger, redactedPaths } from './observability/logger.js';
export { collectRuntimeMetrics } from './observability/runtime-metrics.js';
export { counterSum, type StatsTotals, startStatsLine } from './observability/stats-line.js';
export { type AnswerTokens, MAX_MODEL_LABELS, tokenCounter } from './observability/token-counter.js';
export { type UpstreamMetrics, upstreamObserver } from './observability/upstream-observer.js';
export { runClusterPrimary } from './process/cluster-primary.js';
export { installProcessPolicy, onReloadSignal, onShutdownSignal } from './process/process-policy.js';
export { exitOnListenFailure } from './process/startup-failure.js';
export {
  type BatchJobStep,
  batchStepJob,
  type CompletionJobData,
  decodeAnswer,
  encodeAnswer,
  type QueuedAnswer,
} from './queue/job-protocol.js';
export { type QueueNames, queueNames } from './queue/names.js';
export type { ResponseObject } from './responses/index.js';
export { TextSink } from './upstream/body-sinks.js';
export {
  type ClientCredential,
  discard,
  type KeyHeader,
  type OpenSink,
  streamUpstream,
  toUpstreamError,
  type UpstreamObserver,
  type UpstreamOutcome,
  type UpstreamRequest,
  type UpstreamTimeouts,
} from './upstream/call-upstream.js';
export {
  completeFromStream,
  type FoldRequest,
  type NonStreamAnswer,
  type NonStreamSettings,
} from './upstream/complete-from-stream.js';
export { type ConnectionUse, connectionUse } from './upstream/connection-waits.js';
export {
  ClientGoneError,
  clientDeadlineError,
  type DeadlineCode,
  deadlineError,
  withDeadline,
} from './upstream/deadline.js';
export {
  answerHeaders,
  pickForwardedHeaders,
  relayableResponseHeaders,
} from './upstream/forward-headers.js';
export { reloadUpstreams } from './upstream/reload-upstreams.js';
export { type FoldBody, foldBody, foldBodyFor, renameModel, streamBodyFor } from './upstream/routed-body.js';
export { nonStreamSettings, upstreamTimeouts } from './upstream/settings-from-config.js';
export type { Upstream } from './upstream/upstream.js';
export { failureDetail, isUpstreamFailure } from './upstream/upstream-failure.js';
export { UpstreamGroup } from './upstream/upstream-group.js';
export { UpstreamSet } from './upstream/upstream-set.js';
export { readUpstreamsFile, type UpstreamCapacity, type UpstreamSpec } from './upstream/upstream-specs.js';

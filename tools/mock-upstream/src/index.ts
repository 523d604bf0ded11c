export { createPrng } from './prng.js';
export { startMockUpstream } from './server.js';
export type {
  MockBehavior,
  MockRateLimit,
  MockRateLimitHeaders,
  MockRequestRecord,
  MockUpstream,
  MockUpstreamOptions,
  MockUpstreamStats,
} from './types.js';

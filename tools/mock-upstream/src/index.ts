export { createPrng } from './prng.js';
export { startMockUpstream } from './server.js';
export type {
  MockBehavior,
  MockRequestRecord,
  MockUpstream,
  MockUpstreamOptions,
  MockUpstreamStats,
} from './types.js';

/**
 * The one set of histogram buckets, in seconds, for every duration the proxy measures: from a
 * relayed first byte (milliseconds) to a long folded generation (minutes).
 */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

import { createPrng, type MockBehavior } from '@openai-proxy/mock-upstream';

/** What a flapping upstream does with a call, and how often (weights sum to 100); echo first. */
const FLAPS: readonly (readonly [number, MockBehavior])[] = [
  [55, { kind: 'echo' }],
  [12, { kind: 'status', status: 500 }],
  [5, { kind: 'status', status: 503, headers: { 'retry-after': '1' } }],
  [5, { kind: 'status', status: 429 }],
  // Connection reset mid-stream, and right after the status line.
  [15, { kind: 'drop', afterChunks: 3 }],
  [8, { kind: 'drop', afterChunks: 0 }],
];

function pick(random: () => number, success: MockBehavior): MockBehavior {
  let roll = random() * 100;
  for (const [weight, behavior] of FLAPS) {
    roll -= weight;
    if (roll < 0) return behavior.kind === 'echo' ? success : behavior;
  }
  return success;
}

/**
 * `length` behaviours for one upstream's calls in order: errors and resets mixed with
 * successes (echo answers `chunkDelayMs` apart). The first is a failure, so a failover happens
 * in every run.
 */
export function flappingBehaviors(seed: number, length: number, chunkDelayMs = 30): MockBehavior[] {
  // Seeded, so a flapping upstream flaps the same way every run.
  const random = createPrng(seed);
  const success: MockBehavior = { kind: 'echo', chunkDelayMs };
  return [
    { kind: 'status', status: 500 },
    ...Array.from({ length: length - 1 }, () => pick(random, success)),
  ];
}

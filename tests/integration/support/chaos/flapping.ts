import type { MockBehavior } from '@openai-proxy/mock-upstream';

/** mulberry32: a small seeded generator, so a flapping upstream flaps the same way every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

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
  const random = seeded(seed);
  const success: MockBehavior = { kind: 'echo', chunkDelayMs };
  return [
    { kind: 'status', status: 500 },
    ...Array.from({ length: length - 1 }, () => pick(random, success)),
  ];
}

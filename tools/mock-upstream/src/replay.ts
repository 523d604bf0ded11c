import type { ServerResponse } from 'node:http';
import { createPrng } from './prng.js';
import { writePieces } from './stream-writer.js';
import type { MockBehavior } from './types.js';

export type ReplayBehavior = Extract<MockBehavior, { kind: 'replay' }>;

const RANDOM_MAX_SLICE = 64;
const bytesCache = new WeakMap<ReplayBehavior, Buffer>();

function replayBytes(behavior: ReplayBehavior): Buffer {
  let bytes = bytesCache.get(behavior);
  if (!bytes) {
    bytes = Buffer.from(behavior.sse, 'utf8');
    bytesCache.set(behavior, bytes);
  }
  return bytes;
}

/**
 * Cuts `bytes` into slices: fixed `sliceBytes`, seeded sizes 1..64 for `'random'`, or one slice.
 * Slices may split a multi-byte character or an event: that is the point.
 */
export function sliceBytesOf(bytes: Buffer, sliceBytes: number | 'random' | undefined, seed = 1): Buffer[] {
  if (bytes.length === 0) return [];
  if (sliceBytes === undefined) return [bytes];
  const next =
    sliceBytes === 'random'
      ? (() => {
          const random = createPrng(seed);
          return () => 1 + Math.floor(random() * RANDOM_MAX_SLICE);
        })()
      : () => Math.max(1, Math.floor(sliceBytes));
  const slices: Buffer[] = [];
  for (let start = 0; start < bytes.length; ) {
    const end = Math.min(bytes.length, start + next());
    slices.push(bytes.subarray(start, end));
    start = end;
  }
  return slices;
}

/** Writes the recorded SSE text byte for byte, one `res.write` per slice, then ends. */
export async function runReplay(
  res: ServerResponse,
  behavior: ReplayBehavior,
  signal: AbortSignal,
): Promise<void> {
  res.writeHead(behavior.status ?? 200, {
    'content-type': behavior.contentType ?? 'text/event-stream',
    'cache-control': 'no-cache',
  });
  res.flushHeaders();
  const slices = sliceBytesOf(replayBytes(behavior), behavior.sliceBytes, behavior.seed);
  const written = await writePieces(res, slices, { delayMs: behavior.chunkDelayMs, yieldEach: true, signal });
  if (written) res.end();
}

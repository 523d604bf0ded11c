import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';

export interface WriteOptions {
  /** Wait this long between pieces (a timer), 0 for none. */
  delayMs?: number | undefined;
  /** Yield a macrotask after each piece so pieces tend to leave as separate TCP segments. */
  yieldEach?: boolean;
  /** Aborted when the response closes; writing stops there. */
  signal: AbortSignal;
}

/**
 * Writes `pieces` one `res.write` each, pacing as asked and respecting back-pressure.
 * Resolves `true` when every piece was written, `false` when the client went away first.
 * Does not end the response.
 */
export async function writePieces(
  res: ServerResponse,
  pieces: readonly (string | Buffer)[],
  options: WriteOptions,
): Promise<boolean> {
  const { signal } = options;
  const delayMs = options.delayMs ?? 0;
  try {
    for (let i = 0; i < pieces.length; i++) {
      if (signal.aborted) return false;
      if (i > 0 && delayMs > 0) await sleep(delayMs, undefined, { signal });
      const piece = pieces[i]!;
      if (!res.write(piece)) await once(res, 'drain', { signal });
      if (options.yieldEach && delayMs <= 0) await nextMacrotask(undefined, { signal });
    }
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
  return !signal.aborted;
}

/** Ends the response with everything at once: the fast path for unpaced streams. */
export function endWithAll(res: ServerResponse, pieces: readonly string[]): void {
  res.end(pieces.length === 1 ? pieces[0] : pieces.join(''));
}

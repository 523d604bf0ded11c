import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a key: what the proxy keeps, compares and counts by, instead of the key itself. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The configured access keys, held only as digests. A presented key is hashed and compared
 * with every digest by `timingSafeEqual`: digests all have the same length and the loop never
 * stops early, so the time taken says nothing about the key or which one matched.
 */
export class AccessKeySet {
  private readonly digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(keyDigest);
  }

  get size(): number {
    return this.digests.length;
  }

  matches(presented: string): boolean {
    return this.matchesDigest(keyDigest(presented));
  }

  /** `matches`, for a key already hashed (`keyDigest`). */
  matchesDigest(digest: Buffer): boolean {
    let found = false;
    for (const known of this.digests) found = timingSafeEqual(digest, known) || found;
    return found;
  }
}

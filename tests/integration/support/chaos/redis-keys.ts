import type { Redis } from 'ioredis';

/** Every key matching `pattern`, by SCAN (never KEYS: the tests should not block the Redis they measure). */
export async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Redis glob patterns treat `[`, `]`, `*`, `?` and `\` as special; a prefix may hold them. */
export const globEscape = (text: string) => text.replace(/[[\]*?\\]/g, (char) => `\\${char}`);

/** A job's id, as the gateway makes it (randomUUID). */
export const JOB_ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

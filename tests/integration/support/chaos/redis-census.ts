import type { Redis } from 'ioredis';
import { globEscape, JOB_ID, scanKeys } from './redis-keys.js';

/** What one deployment (one queue prefix) holds in Redis at a moment. */
export interface RedisCensus {
  dbsize: number;
  /** Keys by shape: a job id in a key name becomes `<job>`, so 10,000 job keys are one shape. */
  shapes: Record<string, number>;
  /** Keys of this prefix that stay, the transient ones left out. */
  lasting: number;
  /** INFO memory `used_memory`, bytes. */
  usedMemory: number;
  /** BullMQ's event stream: trimmed by BullMQ itself to about `streams.events.maxLen` entries. */
  eventsLength: number;
  eventsBytes: number;
}

export const eventsKey = (prefix: string) => `${prefix}:completions:events`;

/**
 * BullMQ keys that come and go by themselves whatever the load: the stalled checker's own lock
 * (`stalled-check`, set for one WORKER_STALLED_INTERVAL_MS) and the wake-up marker for idle
 * workers. Whether one exists at the moment of a census is chance, so they are not compared.
 */
const TRANSIENT = /:(stalled-check|marker)$/;

export const isTransient = (shape: string) => TRANSIENT.test(shape);

function usedMemoryOf(info: string): number {
  const match = /^used_memory:(\d+)/m.exec(info);
  if (match?.[1] === undefined) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

export async function takeCensus(client: Redis, prefix: string): Promise<RedisCensus> {
  const keys = await scanKeys(client, `${globEscape(prefix)}:*`);
  const shapes: Record<string, number> = {};
  for (const key of keys) {
    const shape = key.replace(JOB_ID, '<job>');
    shapes[shape] = (shapes[shape] ?? 0) + 1;
  }
  const events = eventsKey(prefix);
  const [dbsize, info, eventsLength, eventsBytes] = await Promise.all([
    client.dbsize(),
    client.info('memory'),
    client.xlen(events),
    // SAMPLES 0: every entry of the stream is counted, not an estimate from a few.
    client.memory('USAGE', events, 'SAMPLES', 0),
  ]);
  return {
    dbsize,
    shapes,
    lasting: keys.filter((key) => !isTransient(key)).length,
    usedMemory: usedMemoryOf(info),
    eventsLength,
    eventsBytes: eventsBytes ?? 0,
  };
}

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AccessKeySet, keyDigest } from '../src/security/access-key-set.js';

describe('keyDigest', () => {
  it('is the SHA-256 of the key as UTF-8', () => {
    expect(keyDigest('sk-é').toString('hex')).toBe(createHash('sha256').update('sk-é', 'utf8').digest('hex'));
    expect(keyDigest('a')).toHaveLength(32);
  });
});

describe('AccessKeySet', () => {
  const set = new AccessKeySet(['key-one', 'key-two', 'key-three']);

  it('matches each configured key, whichever position it has', () => {
    expect(set.size).toBe(3);
    expect(set.matches('key-one')).toBe(true);
    expect(set.matches('key-two')).toBe(true);
    expect(set.matches('key-three')).toBe(true);
  });

  it('matches nothing else: no prefix, no extension, no other case, no empty key', () => {
    expect(set.matches('key-')).toBe(false);
    expect(set.matches('key-one ')).toBe(false);
    expect(set.matches('key-onex')).toBe(false);
    expect(set.matches('KEY-ONE')).toBe(false);
    expect(set.matches('')).toBe(false);
  });

  it('keeps digests, not keys', () => {
    expect(JSON.stringify(set)).not.toContain('key-one');
  });

  it('is empty without keys, and then matches nothing', () => {
    const empty = new AccessKeySet([]);
    expect(empty.size).toBe(0);
    expect(empty.matches('')).toBe(false);
    expect(empty.matches('anything')).toBe(false);
  });
});

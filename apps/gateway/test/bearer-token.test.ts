import { describe, expect, it } from 'vitest';
import { bearerToken, missingKeyError } from '../src/security/bearer-token.js';

describe('bearerToken', () => {
  it.each([
    ['Bearer sk-123', 'sk-123'],
    ['bearer sk-123', 'sk-123'],
    ['BEARER sk-123', 'sk-123'],
    ['Bearer \t sk-123 \t', 'sk-123'],
    ['Bearer sk-with/slashes+and=equals', 'sk-with/slashes+and=equals'],
  ])('reads the key of %j', (header, key) => {
    expect(bearerToken(header)).toBe(key);
  });

  it.each([
    [undefined],
    [''],
    ['sk-123'],
    ['Bearer'],
    ['Bearer '],
    ['Bearersk-123'],
    ['Bearer sk-1 sk-2'],
    ['Basic dXNlcjpwYXNz'],
    [' Bearer sk-123'],
  ])('reads no key from %j', (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });
});

describe('missingKeyError', () => {
  it('is a 401 missing_api_key that says how to send the key', () => {
    const error = missingKeyError(undefined, 'authorization');
    expect(error.status).toBe(401);
    expect(error.code).toBe('missing_api_key');
    expect(error.message).toBe("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.");
  });

  it('names x-api-key on a route that takes it', () => {
    expect(missingKeyError(undefined, 'x-api-key').message).toContain("'x-api-key: <key>'");
    expect(missingKeyError(undefined, 'authorization').message).not.toContain('x-api-key');
  });

  it('answers a header that came without Bearer with how to write it, never repeating it', () => {
    const error = missingKeyError('sk-secret-bare', 'authorization');
    expect(error.code).toBe('missing_api_key');
    expect(error.message).toContain("'Authorization: Bearer <key>'");
    expect(error.message).not.toContain('sk-secret-bare');
    expect(missingKeyError('sk-secret-bare', 'x-api-key').message).toContain("'x-api-key: <key>'");
  });

  it('takes a blank header for no header', () => {
    expect(missingKeyError('   ', 'authorization').message).toBe(
      missingKeyError(undefined, 'authorization').message,
    );
  });
});

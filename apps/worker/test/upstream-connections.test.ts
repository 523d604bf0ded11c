import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../src/config.js';

// A worker process's pool per upstream follows the jobs it runs at once, unless set.

const URL = 'http://127.0.0.1:9/v1/chat/completions';

describe('UPSTREAM_CONNECTIONS in a worker', () => {
  it('is WORKER_CONCURRENCY when unset or 0, and as set otherwise', () => {
    expect(loadWorkerConfig({ UPSTREAM_API_URL: URL }).UPSTREAM_CONNECTIONS).toBe(256);
    expect(loadWorkerConfig({ UPSTREAM_API_URL: URL, WORKER_CONCURRENCY: '5000' }).UPSTREAM_CONNECTIONS).toBe(
      5_000,
    );
    expect(loadWorkerConfig({ UPSTREAM_API_URL: URL, UPSTREAM_CONNECTIONS: '64' }).UPSTREAM_CONNECTIONS).toBe(
      64,
    );
  });
});

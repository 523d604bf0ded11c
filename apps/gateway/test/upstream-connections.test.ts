import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.js';

// A gateway's pool per upstream follows what it may hold at once, unless set.

const URL = 'http://127.0.0.1:9/v1/chat/completions';

describe('UPSTREAM_CONNECTIONS in a gateway', () => {
  it('is MAX_INFLIGHT when unset or 0, and as set otherwise', () => {
    expect(loadGatewayConfig({ UPSTREAM_API_URL: URL }).UPSTREAM_CONNECTIONS).toBe(5_000);
    expect(loadGatewayConfig({ UPSTREAM_API_URL: URL, MAX_INFLIGHT: '30000' }).UPSTREAM_CONNECTIONS).toBe(
      30_000,
    );
    expect(
      loadGatewayConfig({ UPSTREAM_API_URL: URL, MAX_INFLIGHT: '30000', UPSTREAM_CONNECTIONS: '0' })
        .UPSTREAM_CONNECTIONS,
    ).toBe(30_000);
    expect(
      loadGatewayConfig({ UPSTREAM_API_URL: URL, UPSTREAM_CONNECTIONS: '64' }).UPSTREAM_CONNECTIONS,
    ).toBe(64);
  });
});

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startApp } from '@openai-proxy/test-support';
import { describe, expect, it } from 'vitest';

// Thousands of clients connecting at once must not overflow the gateway's accept queue: an
// overflowed connection waits out TCP's SYN retries (1, 3, 7, 15 s…) before the gateway sees it,
// which the 10,000-request hold measured as streams reaching the upstream after 113 s. The kernel
// reports a listener's queue size as its Send-Q (`ss -l`); it caps it at net.core.somaxconn.

const UPSTREAM = 'http://127.0.0.1:9/v1/chat/completions';
const SOMAXCONN = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
/** Node's own backlog when none is given. */
const NODE_DEFAULT_BACKLOG = 511;

/** The accept queue size of the socket listening on `port`. */
function acceptQueueSize(port: number): number {
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  // State, Recv-Q, Send-Q (the backlog for a listener), local address, peer address.
  const sendQueue = line.split(/\s+/)[2];
  if (sendQueue === undefined) throw new Error(`nothing listens on ${port}: ${JSON.stringify(line)}`);
  return Number(sendQueue);
}

async function backlogOf(env: Record<string, string>): Promise<number> {
  const gateway = await startApp('gateway', { UPSTREAM_API_URL: UPSTREAM, ...env });
  try {
    return acceptQueueSize(gateway.port);
  } finally {
    await gateway.stop();
  }
}

describe('the gateway listens with a deep accept queue', () => {
  it('by default as deep as the kernel allows (net.core.somaxconn), not Node’s 511', async () => {
    expect(await backlogOf({})).toBe(Math.min(65_535, SOMAXCONN));
    expect(SOMAXCONN).toBeGreaterThan(NODE_DEFAULT_BACKLOG);
  });

  it('LISTEN_BACKLOG sets it, in one process and with GATEWAY_PROCESSES > 1 (the primary listens)', async () => {
    const wanted = Math.min(1_000, SOMAXCONN - 1);
    expect(await backlogOf({ LISTEN_BACKLOG: String(wanted) })).toBe(wanted);
    expect(await backlogOf({ LISTEN_BACKLOG: String(wanted), GATEWAY_PROCESSES: '2' })).toBe(wanted);
  });
});

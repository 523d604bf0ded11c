import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  type AppProcess,
  startApp,
  startRedisSentinelGroup,
  type TestRedisSentinelGroup,
} from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// A Sentinel group (a master, its replica, three sentinels that think a master down after a
// second of silence), two gateways and a worker farm as real processes configured by
// REDIS_SENTINELS and REDIS_SENTINEL_MASTER. Under a steady load of folded requests the master
// is SIGKILLed: the sentinels promote the replica and the proxy follows by itself. Every request
// is counted: accepted (not refused at the door), answered, lost. Quick 503s while there is no
// master are allowed; an accepted request that ends any other way than its answer is lost.

const PREFIX = `{sentinel-${process.pid}}`;
/** Client loops running at once. */
const CLIENTS = 12;

let group: TestRedisSentinelGroup;
let upstream: MockUpstream;
let gateways: AppProcess[] = [];
let worker: AppProcess;

beforeAll(async () => {
  [group, upstream] = await Promise.all([
    startRedisSentinelGroup({ downAfterMs: 1_000, failoverTimeoutMs: 3_000 }),
    // Each answer takes a while, so jobs are waiting and active when the master dies.
    startMockUpstream({ name: 'sentinel', defaultBehavior: { kind: 'echo', chunkDelayMs: 15 } }),
  ]);
  const env = {
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_SENTINELS: group.sentinelList,
    REDIS_SENTINEL_MASTER: group.masterName,
    QUEUE_PREFIX: PREFIX,
    STATS_INTERVAL_SECONDS: '0',
    REQUEST_TIMEOUT_MS: '30000',
  };
  [worker, ...gateways] = await Promise.all([
    startApp('worker', { ...env, WORKER_PROCESSES: '1' }),
    startApp('gateway', env),
    startApp('gateway', env),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.stop()));
  await worker?.stop();
  await Promise.all([upstream?.close(), group?.stop()]);
});

interface Tally {
  sent: number;
  /** Refused at the door with a 503 (no master to queue the job in): allowed, counted. */
  refused: number;
  answered: number;
  /** Accepted but not answered: a wrong answer, another status, a broken connection. */
  lost: Array<{ status: number; body: string }>;
  answeredAfterFailover: number;
  /** Sent before the master died, answered after: jobs that lived through the failover. */
  answeredAcrossKill: number;
}

describe('a Sentinel failover under load', () => {
  it('promotes the replica, and the proxy carries on without losing an accepted request', async () => {
    const tally: Tally = {
      sent: 0,
      refused: 0,
      answered: 0,
      lost: [],
      answeredAfterFailover: 0,
      answeredAcrossKill: 0,
    };
    let killed = false;
    let failedOver = false;
    let running = true;
    const client = async (id: number) => {
      for (let n = 0; running; n += 1) {
        const gateway = gateways[(id + n) % gateways.length] as AppProcess;
        const content = `client ${id} request ${n}`;
        tally.sent += 1;
        const sentBeforeKill = !killed;
        const answer = await postJson(`${gateway.url}/v1/chat/completions`, chatBody(content)).catch(
          (error: unknown) => ({ status: 0, text: String(error), json: {} as Record<string, unknown> }),
        );
        const text = (answer.json as { choices?: Array<{ message?: { content?: string } }> }).choices?.[0]
          ?.message?.content;
        if (answer.status === 200 && text === `echo: ${content}`) {
          tally.answered += 1;
          if (failedOver) tally.answeredAfterFailover += 1;
          if (sentBeforeKill && killed) tally.answeredAcrossKill += 1;
        } else if (answer.status === 503) {
          tally.refused += 1;
          await new Promise((resolve) => setTimeout(resolve, 50));
        } else {
          tally.lost.push({ status: answer.status, body: answer.text.slice(0, 300) });
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, id) => client(id));

    await eventually(() => tally.answered >= 30, 20_000);
    const answeredBefore = tally.answered;
    killed = true;
    await group.master.process.stop('SIGKILL');
    await eventually(async () => (await group.currentMasterPort()) === group.replica.port, 30_000, 100);
    failedOver = true;
    // The proxy carries on: answers flow again through the promoted replica.
    await eventually(() => tally.answeredAfterFailover >= 60, 30_000);
    running = false;
    await Promise.all(clients);

    const accepted = tally.sent - tally.refused;
    console.info(
      `sentinel failover: sent ${tally.sent}, accepted ${accepted}, answered ${tally.answered} ` +
        `(${answeredBefore} before the kill, ${tally.answeredAcrossKill} sent before it and answered after), ` +
        `refused with 503 ${tally.refused}, lost ${tally.lost.length}`,
    );
    expect(tally.lost).toEqual([]);
    expect(tally.answered).toBe(accepted);
    // Jobs queued or running on the old master were answered through the new one.
    expect(tally.answeredAcrossKill).toBeGreaterThan(0);
    for (const gateway of gateways) {
      await eventually(async () => (await fetch(`${gateway.url}/ready`)).status === 200, 15_000);
    }
  }, 120_000);
});

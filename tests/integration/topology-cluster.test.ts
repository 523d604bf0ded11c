import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  type AppProcess,
  redisCli,
  startApp,
  startRedisCluster,
  type TestRedisCluster,
} from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// A Redis Cluster of three masters with a replica each (six redis-servers joined by
// `redis-cli --cluster create`), two gateways and a worker farm as real processes, configured by
// REDIS_CLUSTER_NODES alone. Chat requests, streamed and folded, through both gateways; the
// rate limit's counters shared between them; every key of the deployment in the slot of its
// `{…}` tag; answers and cancels on sharded pub/sub in that slot's shard.

const PREFIX = `{cluster-${process.pid}}`;
const RATE_LIMIT = 30;
/** Every request but the rate-limit test's: its allowance is never used up here. */
const BULK = { authorization: 'Bearer bulk-client' };
const METERED = { authorization: 'Bearer metered-client' };
/** The failover test's clients: many keys, so its load never meets the rate limit. */
const FAILOVER_KEYS = Array.from({ length: 400 }, (_, index) => `failover-client-${index}`);

let cluster: TestRedisCluster;
let upstream: MockUpstream;
let gateways: AppProcess[] = [];
let worker: AppProcess;

beforeAll(async () => {
  [cluster, upstream] = await Promise.all([startRedisCluster(), startMockUpstream({ name: 'cluster' })]);
  const env = {
    UPSTREAM_API_URL: upstream.chatUrl,
    REDIS_CLUSTER_NODES: cluster.nodeList,
    QUEUE_PREFIX: PREFIX,
    STATS_INTERVAL_SECONDS: '0',
  };
  const limited = {
    ...env,
    GATEWAY_API_KEYS: ['bulk-client', 'metered-client', ...FAILOVER_KEYS].join(','),
    RATE_LIMIT_REQUESTS: String(RATE_LIMIT),
    RATE_LIMIT_WINDOW_SECONDS: '600',
  };
  [worker, ...gateways] = await Promise.all([
    startApp('worker', { ...env, WORKER_PROCESSES: '1' }),
    startApp('gateway', limited),
    startApp('gateway', limited),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.stop()));
  await worker?.stop();
  await Promise.all([upstream?.close(), cluster?.stop()]);
});

/** The master holding the deployment's keys: the one whose count for the tag's slot is not 0. */
async function ownerOfPrefix(): Promise<number> {
  const slot = await redisCli(cluster.nodes[0]?.port ?? 0, ['CLUSTER', 'KEYSLOT', PREFIX]);
  const owners: number[] = [];
  for (const port of await cluster.masters()) {
    if (Number(await redisCli(port, ['CLUSTER', 'COUNTKEYSINSLOT', slot])) > 0) owners.push(port);
  }
  expect(owners).toHaveLength(1);
  return owners[0] as number;
}

describe('gateways and workers on a Redis Cluster', () => {
  it('answer chat requests, folded and streamed, through either gateway', async () => {
    for (const [index, gateway] of gateways.entries()) {
      const client = new OpenAI({ apiKey: 'bulk-client', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
      const folded = await client.chat.completions.create({
        model: 'mock-model',
        messages: [{ role: 'user', content: `folded on the cluster ${index}` }],
      });
      expect(folded.choices[0]?.message.content).toBe(`echo: folded on the cluster ${index}`);
      const stream = await client.chat.completions.create({
        model: 'mock-model',
        messages: [{ role: 'user', content: `streamed past the cluster ${index}` }],
        stream: true,
      });
      let streamed = '';
      for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
      expect(streamed).toBe(`echo: streamed past the cluster ${index}`);
    }
  });

  it('answer many folded requests at once from both gateways', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        postJson(`${gateways[index % 2]?.url}/v1/chat/completions`, chatBody(`burst ${index}`), BULK),
      ),
    );
    for (const [index, answer] of answers.entries()) {
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json).toMatchObject({ choices: [{ message: { content: `echo: burst ${index}` } }] });
    }
  });

  it('keep every key of the deployment in the slot of its hash tag, on one master', async () => {
    const owner = await ownerOfPrefix();
    const slot = await redisCli(owner, ['CLUSTER', 'KEYSLOT', PREFIX]);
    const keys = (await redisCli(owner, ['--scan', '--pattern', `${PREFIX}*`])).split('\n').filter(Boolean);
    // The queue's fixed keys, the worker presence set and the rate-limit counters are there.
    expect(keys).toEqual(expect.arrayContaining([`${PREFIX}:completions:meta`, `${PREFIX}:workers`]));
    expect(keys.some((key) => key.startsWith(`${PREFIX}:ratelimit`))).toBe(true);
    for (const key of keys) expect(await redisCli(owner, ['CLUSTER', 'KEYSLOT', key]), key).toBe(slot);
    // No other master holds a key of this deployment.
    for (const port of await cluster.masters()) {
      if (port === owner) continue;
      expect(await redisCli(port, ['--scan', '--pattern', `${PREFIX}*`])).toBe('');
    }
  });

  it('listen for answers and cancels on sharded channels in the shard of the hash tag', async () => {
    const owner = await ownerOfPrefix();
    const shardChannels = (await redisCli(owner, ['PUBSUB', 'SHARDCHANNELS', `${PREFIX}*`])).split('\n');
    // One results channel per gateway process, and the workers' cancel channel.
    expect(shardChannels.filter((channel) => channel.startsWith(`${PREFIX}:results:`))).toHaveLength(2);
    expect(shardChannels).toContain(`${PREFIX}:cancel`);
    for (const node of cluster.nodes) {
      expect(await redisCli(node.port, ['PUBSUB', 'CHANNELS', `${PREFIX}*`])).toBe('');
    }
  });

  it('share one rate-limit allowance between both gateways', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < RATE_LIMIT + 4; index += 1) {
      const gateway = gateways[index % 2] as AppProcess;
      const answer = await postJson(
        `${gateway.url}/v1/chat/completions`,
        chatBody(`limit ${index}`),
        METERED,
      );
      statuses.push(answer.status);
    }
    // One allowance for both gateways, not one each: the request after the limit is refused
    // whichever gateway it reaches.
    expect(statuses).toEqual([...Array(RATE_LIMIT).fill(200), 429, 429, 429, 429]);
  });

  it('carry on when the master of the hash tag is SIGKILLed and its replica takes over', async () => {
    const owner = await ownerOfPrefix();
    const tally = { sent: 0, refused: 0, answered: 0, lost: [] as string[], afterFailover: 0 };
    let failedOver = false;
    let running = true;
    const client = async (id: number) => {
      for (let n = 0; running; n += 1) {
        const content = `failover ${id}.${n}`;
        tally.sent += 1;
        const answer = await postJson(
          `${gateways[(id + n) % 2]?.url}/v1/chat/completions`,
          chatBody(content),
          { authorization: `Bearer ${FAILOVER_KEYS[tally.sent % FAILOVER_KEYS.length]}` },
        ).catch((error: unknown) => ({ status: 0, text: String(error), json: {} }));
        const text = (answer.json as { choices?: Array<{ message?: { content?: string } }> }).choices?.[0]
          ?.message?.content;
        if (answer.status === 200 && text === `echo: ${content}`) {
          tally.answered += 1;
          if (failedOver) tally.afterFailover += 1;
        } else if (answer.status === 503) {
          tally.refused += 1;
          await new Promise((resolve) => setTimeout(resolve, 50));
        } else {
          tally.lost.push(`${answer.status} ${answer.text.slice(0, 200)}`);
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, id) => client(id));
    await eventually(() => tally.answered >= 20, 20_000);
    const node = cluster.nodes.find((candidate) => candidate.port === owner);
    await node?.process.stop('SIGKILL');
    // The replica of the dead master is promoted: the slot has a live owner again.
    await eventually(
      async () => {
        const masters = await cluster.masters().catch((): number[] => []);
        return masters.length === 3 && !masters.includes(owner);
      },
      30_000,
      200,
    );
    failedOver = true;
    await eventually(() => tally.afterFailover >= 20, 30_000);
    running = false;
    await Promise.all(clients);
    console.info(
      `cluster failover: sent ${tally.sent}, accepted ${tally.sent - tally.refused}, answered ${tally.answered}, ` +
        `refused with 503 ${tally.refused}, lost ${tally.lost.length}`,
    );
    expect(tally.lost).toEqual([]);
    expect(tally.answered).toBe(tally.sent - tally.refused);
  }, 90_000);
});

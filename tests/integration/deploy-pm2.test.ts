import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { freePort, startRedis, type TestRedis } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, waitForFileText, waitUntilAnswers } from './support/deploy/http-probe.js';
import { createPm2Sandbox, ECOSYSTEM, type Pm2Sandbox } from './support/deploy/pm2.js';
import { repoPath } from './support/deploy/repo.js';

// Issue 8: deploy/pm2/ecosystem.config.cjs loaded by a real PM2 (its own daemon, in a temporary
// folder), running the built apps against the mock provider and the suite's own Redis.

interface AppDefinition {
  name: string;
  script: string;
  exec_mode: string;
  instances: number;
  out_file: string;
  error_file: string;
  env?: Record<string, string>;
  treekill?: boolean;
  kill_timeout: number;
}

const ecosystem = createRequire(import.meta.url)(repoPath(ECOSYSTEM)) as { apps: AppDefinition[] };
const app = (name: string) => {
  const found = ecosystem.apps.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`${ECOSYSTEM} has no app ${name}`);
  return found;
};

describe('the PM2 ecosystem file, read', () => {
  it('runs the gateway in cluster mode and the worker, its own cluster primary, as one forked process', () => {
    expect(ecosystem.apps.map((a) => a.name)).toEqual(['gateway', 'worker']);
    expect(app('gateway')).toMatchObject({ script: 'apps/gateway/dist/main.js', exec_mode: 'cluster' });
    // One instance: /metrics stays exact; `pm2 scale` adds more (tested below).
    expect(app('gateway').instances).toBe(1);
    expect(app('worker')).toMatchObject({
      script: 'apps/worker/dist/main.js',
      exec_mode: 'fork',
      instances: 1,
      treekill: false,
    });
  });

  it('sets no variables of its own and waits out the shutdown grace period (30 s) before killing', () => {
    for (const definition of ecosystem.apps) {
      expect(definition.env).toBeUndefined();
      expect(definition.kill_timeout).toBeGreaterThan(30_000);
    }
  });
});

describe('the PM2 ecosystem file, run by pm2', () => {
  let sandbox: Pm2Sandbox;
  let upstream: MockUpstream;
  let redis: TestRedis;

  beforeAll(async () => {
    sandbox = createPm2Sandbox();
    [upstream, redis] = await Promise.all([startMockUpstream({ name: 'pm2' }), startRedis()]);
  });

  afterAll(async () => {
    await sandbox?.dispose();
    await Promise.all([upstream?.close(), redis?.stop()]);
  }, 60_000);

  /**
   * Asks /health on fresh connections until every pid in `expected` has answered (an instance PM2
   * just started may not listen yet), within 20 s; gives back the pids that answered.
   */
  async function answeringPids(url: string, expected: number[]): Promise<number[]> {
    const pids = new Set<number>();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !expected.every((pid) => pids.has(pid))) {
      const health = await getJson(`${url}/health`);
      expect(health.body).toMatchObject({ status: 'ok', mode: 'standalone' });
      pids.add(health.body.pid as number);
      if (!expected.every((pid) => pids.has(pid))) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return [...pids].sort();
  }
  const gatewayPids = async () =>
    (await sandbox.list())
      .filter((p) => p.name === 'gateway')
      .map((p) => {
        expect(p.pm2_env).toMatchObject({ exec_mode: 'cluster_mode', status: 'online' });
        return p.pid;
      })
      .sort();

  it('`pm2 start ecosystem.config.cjs --only gateway`: cluster mode, scales, reloads, logs to its file', async () => {
    const port = await freePort();
    await sandbox.pm2(['start', ECOSYSTEM, '--only', 'gateway'], {
      UPSTREAM_API_URL: upstream.chatUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      SHUTDOWN_GRACE_MS: '2000',
    });
    const url = `http://127.0.0.1:${port}`;
    await waitUntilAnswers(`${url}/health`);
    const first = await gatewayPids();
    expect(first).toHaveLength(1);
    expect(await answeringPids(url, first)).toEqual(first);

    const client = new OpenAI({ apiKey: 'sk-pm2', baseURL: `${url}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'under pm2' }],
    });
    expect(completion.choices[0]?.message.content).toBe('echo: under pm2');

    // More cores: a second instance shares the port (fresh connections are handed out in turn).
    await sandbox.pm2(['scale', 'gateway', '2']);
    const scaled = await gatewayPids();
    expect(scaled).toHaveLength(2);
    expect(await answeringPids(url, scaled)).toEqual(scaled);

    // `pm2 reload`: new instances replace the old ones, each answering once it listens.
    await sandbox.pm2(['reload', 'gateway']);
    const reloaded = await gatewayPids();
    expect(reloaded).toHaveLength(2);
    expect(reloaded.filter((pid) => scaled.includes(pid))).toEqual([]);
    expect(await answeringPids(url, reloaded)).toEqual(reloaded);

    // PM2 writes what every instance prints into the one file the ecosystem names.
    const logFile = join(sandbox.root, 'logs', 'gateway.out.log');
    for (const pid of [...first, ...reloaded]) {
      await waitForFileText(logFile, new RegExp(`"pid":${pid},[^\\n]*gateway listening`));
    }
    await sandbox.pm2(['delete', 'gateway']);
  });

  it('`pm2 start ecosystem.config.cjs`: gateway and worker farm in queue mode answer a non-stream request', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    await sandbox.pm2(['start', ECOSYSTEM], {
      UPSTREAM_API_URL: upstream.chatUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `{test-${process.pid}-pm2}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      WORKER_PROCESSES: '2',
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_METRICS_HOST: '127.0.0.1',
      // A short grace keeps `pm2 kill` at the end quick, whatever a process is still doing.
      SHUTDOWN_GRACE_MS: '2000',
    });
    await Promise.all([
      waitUntilAnswers(`http://127.0.0.1:${port}/ready`),
      waitUntilAnswers(`http://127.0.0.1:${metricsPort}/health`),
    ]);
    const worker = (await sandbox.list()).filter((p) => p.name === 'worker');
    expect(worker).toHaveLength(1);
    expect(worker[0]?.pm2_env).toMatchObject({ exec_mode: 'fork_mode', status: 'online' });
    // PM2 supervises the primary; the primary's metrics server is what answers.
    expect((await getJson(`http://127.0.0.1:${metricsPort}/health`)).body).toMatchObject({
      role: 'worker-primary',
      pid: worker[0]?.pid,
    });

    const client = new OpenAI({ apiKey: 'sk-pm2', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'queued under pm2' }],
    });
    expect(completion.choices[0]?.message.content).toBe('echo: queued under pm2');

    // Both children of the worker's own cluster came up under the one PM2 process.
    const workerLog = await waitForFileText(
      join(sandbox.root, 'logs', 'worker.out.log'),
      /worker ready[\s\S]*worker ready/,
    );
    expect(workerLog).toContain('"processes":2');
  });
});

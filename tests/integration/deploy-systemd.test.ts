import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseEnv, promisify } from 'node:util';
import { gatewaySchema, loadGatewayConfig } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { freePort, type SpawnedProcess, startRedis, type TestRedis } from '@openai-proxy/test-support';
import { loadWorkerConfig } from '@openai-proxy/worker';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandOnPath } from './support/deploy/command-on-path.js';
import { spawnCommand } from './support/deploy/deploy-command.js';
import { REPO_ROOT, readRepoFile, repoPath } from './support/deploy/repo.js';
import { parseUnit, timeSpanMs, type Unit, value } from './support/deploy/systemd-unit.js';
import { knownEnvVars } from './support/known-env-vars.js';

// Issue 8: the systemd units and their environment file. systemd itself does not run here, so
// the units are checked by `systemd-analyze verify` and read, and their ExecStart is run with the
// example environment file, as systemd would start it.

const UNITS = {
  gateway: 'deploy/systemd/openai-proxy-gateway.service',
  worker: 'deploy/systemd/openai-proxy-worker.service',
} as const;
const ENV_EXAMPLE = 'deploy/systemd/openai-proxy.env.example';
const units: Record<keyof typeof UNITS, Unit> = {
  gateway: parseUnit(UNITS.gateway),
  worker: parseUnit(UNITS.worker),
};
const exampleEnv = parseEnv(readRepoFile(ENV_EXAMPLE)) as Record<string, string>;

describe('systemd units', () => {
  it('pass `systemd-analyze verify` without a warning', async (context) => {
    const analyze = commandOnPath('systemd-analyze');
    if (analyze === undefined) {
      if (process.env.CI) throw new Error('systemd-analyze is missing in CI');
      context.skip('systemd-analyze is not installed here: the units were only read, not verified');
    }
    const run = promisify(execFile);
    const { stderr } = await run(analyze as string, [
      'verify',
      repoPath(UNITS.gateway),
      repoPath(UNITS.worker),
    ]);
    // Lines about the system's own units are not ours to fix.
    const ours = stderr.split('\n').filter((line) => line.includes('openai-proxy'));
    expect(ours).toEqual([]);
  });

  it.each(Object.keys(UNITS) as (keyof typeof UNITS)[])(
    '%s: runs the built app from the checkout',
    (name) => {
      const unit = units[name];
      const entry = `apps/${name}/dist/main.js`;
      expect(value(unit, 'Service', 'ExecStart')).toBe(`node ${entry}`);
      expect(existsSync(repoPath(entry))).toBe(true);
      expect(value(unit, 'Service', 'WorkingDirectory')).toBe('/opt/openai-proxy');
      expect(value(unit, 'Service', 'EnvironmentFile')).toBe('/etc/openai-proxy/openai-proxy.env');
      expect(value(unit, 'Service', 'Restart')).toBe('always');
      expect(value(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
    },
  );

  it.each(Object.keys(UNITS) as (keyof typeof UNITS)[])(
    '%s: stops gracefully: SIGTERM to the main process only, longer than the shutdown grace period',
    (name) => {
      const unit = units[name];
      // The cluster primary passes SIGTERM on to its children once; KillMode=control-group would
      // signal every child a second time and cut their in-flight work short.
      expect(value(unit, 'Service', 'KillMode')).toBe('mixed');
      expect(value(unit, 'Service', 'KillSignal')).toBe('SIGTERM');
      const grace = gatewaySchema.parse({
        UPSTREAM_API_URL: 'http://u.example/v1/chat/completions',
      }).SHUTDOWN_GRACE_MS;
      expect(timeSpanMs(value(unit, 'Service', 'TimeoutStopSec') ?? '90')).toBeGreaterThan(grace);
    },
  );

  it.each(Object.keys(UNITS) as (keyof typeof UNITS)[])('%s: runs unprivileged', (name) => {
    const unit = units[name];
    expect(value(unit, 'Service', 'DynamicUser')).toBe('yes');
    expect(value(unit, 'Service', 'NoNewPrivileges')).toBe('yes');
    expect(value(unit, 'Service', 'ProtectSystem')).toBe('strict');
  });
});

describe('the example environment file', () => {
  it('names only variables of the config schema, set or commented out', () => {
    const named = [...readRepoFile(ENV_EXAMPLE).matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map(
      (m) => m[1] as string,
    );
    expect(named.length).toBeGreaterThan(5);
    for (const name of named) expect(knownEnvVars).toContain(name);
    const fromUnits = Object.values(units).flatMap((unit) => unit.Service?.Environment ?? []);
    for (const assignment of fromUnits) expect(knownEnvVars).toContain(assignment.split('=')[0]);
  });

  it('is a configuration both apps accept, in queue mode', () => {
    const gateway = loadGatewayConfig(exampleEnv);
    const worker = loadWorkerConfig(exampleEnv);
    expect(gateway.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(worker.REDIS_URL).toBe(gateway.REDIS_URL);
    // Behind nginx on the same machine, nothing listens beyond loopback.
    expect(gateway.HOST).toBe('127.0.0.1');
    expect(worker.WORKER_METRICS_HOST).toBe('127.0.0.1');
  });
});

describe('the units’ commands with the example environment', () => {
  let upstream: MockUpstream;
  let redis: TestRedis;
  const running: SpawnedProcess[] = [];

  beforeAll(async () => {
    [upstream, redis] = await Promise.all([startMockUpstream({ name: 'systemd' }), startRedis()]);
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.stop()));
    await Promise.all([upstream?.close(), redis?.stop()]);
  }, 60_000);

  it('start the gateway and the worker farm, which answer a non-stream request', async () => {
    // The example's values, with this test's own upstream, Redis and ports in place of the real ones.
    const env = {
      ...exampleEnv,
      UPSTREAM_API_URL: upstream.chatUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `{test-${process.pid}-systemd}`,
      PORT: String(await freePort()),
      WORKER_METRICS_PORT: String(await freePort()),
      WORKER_PROCESSES: '1',
      STATS_INTERVAL_SECONDS: '0',
      SHUTDOWN_GRACE_MS: '2000',
    };
    const [gateway, worker] = (['gateway', 'worker'] as const).map((name) => {
      const command = (value(units[name], 'Service', 'ExecStart') ?? '').split(' ');
      const app = spawnCommand(command, { cwd: REPO_ROOT, env });
      running.push(app);
      return app;
    }) as [SpawnedProcess, SpawnedProcess];
    await Promise.all([
      gateway.waitForOutput(/gateway listening \(queue mode\)/),
      worker.waitForOutput(/worker ready/),
    ]);
    const client = new OpenAI({
      apiKey: 'sk-systemd',
      baseURL: `http://127.0.0.1:${env.PORT}/v1`,
      maxRetries: 0,
    });
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'as a service' }],
    });
    expect(completion.choices[0]?.message.content).toBe('echo: as a service');
  });
});

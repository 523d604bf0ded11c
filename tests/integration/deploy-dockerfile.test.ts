import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { freePort, type SpawnedProcess, startRedis, type TestRedis } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCompose } from './support/deploy/compose-file.js';
import { exitCodeOf, spawnCommand } from './support/deploy/deploy-command.js';
import { parseDockerfile, type Stage, stage } from './support/deploy/dockerfile.js';
import { inBuildContext, type RehearsedStage, rehearseDockerfile } from './support/deploy/image-rehearsal.js';
import { REPO_ROOT, readRepoFile, repoPath } from './support/deploy/repo.js';
import { workspaceClosure, workspaceDirs } from './support/deploy/workspaces.js';
import { knownEnvVars } from './support/known-env-vars.js';

// Issue 8: the Dockerfile, read statically, then carried out on this machine (no Docker engine
// here) and its image's commands run: the gateway, the worker, the HEALTHCHECK.

const dockerfile = parseDockerfile();
const APPS = ['@openai-proxy/gateway', '@openai-proxy/worker'];

/** The `--workspace=` names of a stage's `npm ci` and the files COPY brought in before it. */
function npmCiOf(target: Stage): { flags: string; workspaces: string[]; copiedBefore: string[] } {
  const index = target.steps.findIndex((step) => step.keyword === 'RUN' && /\bnpm ci\b/.test(step.args));
  expect(index, `stage ${target.name} runs npm ci`).toBeGreaterThan(-1);
  const flags = target.steps[index]?.args ?? '';
  const copiedBefore = target.steps
    .slice(0, index)
    .filter((step) => step.keyword === 'COPY' && step.flags.from === undefined)
    .flatMap((step) => step.args.split(/\s+/).slice(0, -1));
  return {
    flags,
    workspaces: [...flags.matchAll(/--workspace=(\S+)/g)].map((m) => m[1] as string),
    copiedBefore,
  };
}

describe('Dockerfile, read statically', () => {
  it('builds in one stage and runs in another, both on the slim image of one Node major', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(dockerfile.args.NODE_VERSION).toMatch(/^\d+$/);
    for (const s of dockerfile.stages) expect(s.image).toBe(`node:${dockerfile.args.NODE_VERSION}-slim`);
    // The project's own floor (package.json engines) is 20; the image must not fall below it.
    expect(Number(dockerfile.args.NODE_VERSION)).toBeGreaterThanOrEqual(20);
  });

  it('is the Node major that CI runs the test suite on a second time', () => {
    // .ci/run reads the major from this Dockerfile and installs that `node` from npm.
    const ciRun = readRepoFile('.ci/run');
    expect(ciRun).toContain("sed -n 's/^ARG NODE_VERSION=\\([0-9]*\\)$/\\1/p' Dockerfile");
    expect(ciRun).toMatch(/"node@\$\{?node_lts\}?"/);
  });

  it('copies, before each npm ci, the manifest of every workspace that install needs', () => {
    const dirs = workspaceDirs();
    for (const [name, productionOnly] of [
      ['build', false],
      ['runtime', true],
    ] as const) {
      const { workspaces, copiedBefore } = npmCiOf(stage(dockerfile, name));
      expect(new Set(workspaces), `${name}: npm ci installs the two apps`).toEqual(new Set(APPS));
      expect(copiedBefore).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
      for (const workspace of workspaceClosure(workspaces, { productionOnly })) {
        expect(copiedBefore, `${name}: ${workspace}'s manifest`).toContain(
          `${dirs.get(workspace)}/package.json`,
        );
      }
    }
  });

  it('installs only production dependencies in the runtime stage and copies only compiled JS', () => {
    const runtime = stage(dockerfile, 'runtime');
    expect(npmCiOf(runtime).flags).toMatch(/--omit=dev\b/);
    const fromBuild = runtime.steps.filter((step) => step.keyword === 'COPY' && step.flags.from === 'build');
    const dirs = workspaceDirs();
    const expected = [...workspaceClosure(APPS, { productionOnly: true })].map(
      (n) => `/app/${dirs.get(n)}/dist`,
    );
    expect(fromBuild.map((step) => step.args.split(/\s+/)[0]).sort()).toEqual(expected.sort());
    // Nothing else from the build context (sources, tests, dev tools) reaches the runtime image.
    const fromContext = runtime.steps.filter(
      (step) => step.keyword === 'COPY' && step.flags.from === undefined,
    );
    const sources = fromContext.flatMap((step) => step.args.split(/\s+/).slice(0, -1));
    for (const source of sources) expect(source).toMatch(/(^|\/)package(-lock)?\.json$/);
  });

  it('runs as an unprivileged user, set before the command', () => {
    const runtime = stage(dockerfile, 'runtime');
    const users = runtime.steps.filter((step) => step.keyword === 'USER').map((step) => step.args);
    expect(users.at(-1)).toBeDefined();
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const userIndex = runtime.steps.findLastIndex((step) => step.keyword === 'USER');
    const cmdIndex = runtime.steps.findIndex((step) => step.keyword === 'CMD');
    expect(userIndex).toBeLessThan(cmdIndex);
  });

  it('starts the gateway by default, from a file the build produces', () => {
    const cmd = stage(dockerfile, 'runtime').steps.find((step) => step.keyword === 'CMD')?.exec;
    expect(cmd).toEqual(['node', 'apps/gateway/dist/main.js']);
    expect(existsSync(repoPath('apps/gateway/dist/main.js'))).toBe(true);
    // docker-compose.yml runs the same command for the gateway.
    expect(
      loadCompose({ UPSTREAM_API_URL: 'http://upstream.invalid/v1/chat/completions' }).services.gateway
        ?.command,
    ).toEqual(cmd);
  });

  it('checks health with Node itself (slim images have no curl) against /health', () => {
    const healthcheck = stage(dockerfile, 'runtime').steps.find((step) => step.keyword === 'HEALTHCHECK');
    expect(healthcheck?.exec?.[0]).toBe('node');
    expect(healthcheck?.exec?.join(' ')).toMatch(/\/health/);
  });

  it('sets no variable in the runtime image that the proxy does not know', () => {
    const runtimeEnv = stage(dockerfile, 'runtime')
      .steps.filter((step) => step.keyword === 'ENV')
      .flatMap((step) => [...step.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1] as string));
    for (const name of runtimeEnv) expect(knownEnvVars).toContain(name);
  });
});

describe('.dockerignore', () => {
  const inContext = inBuildContext();

  it('keeps installed and built files, git and secrets out of the build context', () => {
    for (const path of [
      'node_modules/zod/package.json',
      'apps/gateway/node_modules/.bin/tsc',
      'apps/gateway/dist/main.js',
      'libs/shared/dist/index.js',
      '.turbo/cache/x',
      'apps/worker/.turbo/turbo-build.log',
      '.git/config',
      '.env',
      '.env.production',
    ]) {
      expect(inContext(path), path).toBe(false);
    }
  });

  it('lets in every tracked file of the workspaces the image builds, and the root build config', () => {
    const dirs = workspaceDirs();
    const needed = [...workspaceClosure(APPS, { productionOnly: false })].map((name) => `${dirs.get(name)}/`);
    const tracked = execFileSync('git', ['ls-files'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n');
    const files = tracked.filter((file) => needed.some((dir) => file.startsWith(dir)));
    expect(files.length).toBeGreaterThan(10);
    for (const file of [...files, 'package.json', 'package-lock.json', 'tsconfig.json', 'turbo.json']) {
      expect(inContext(file), file).toBe(true);
    }
  });
});

describe('the image, rehearsed on this machine', () => {
  let stages: Map<string, RehearsedStage>;
  let runtime: RehearsedStage;
  let upstream: MockUpstream;
  let redis: TestRedis;
  const running: SpawnedProcess[] = [];

  beforeAll(async () => {
    [stages, upstream, redis] = await Promise.all([
      rehearseDockerfile(dockerfile),
      startMockUpstream({ name: 'image' }),
      startRedis(),
    ]);
    runtime = stages.get('runtime') as RehearsedStage;
  }, 300_000);

  afterAll(async () => {
    await Promise.all(running.map((app) => app.stop()));
    await Promise.all([upstream?.close(), redis?.stop()]);
    for (const rehearsed of stages?.values() ?? []) rmSync(rehearsed.dir, { recursive: true, force: true });
  }, 60_000);

  const start = (command: string[] | undefined, env: Record<string, string>) => {
    if (command === undefined) throw new Error('no command');
    const app = spawnCommand(command, { cwd: runtime.dir, env: { ...runtime.env, ...env } });
    running.push(app);
    return app;
  };

  it('holds production dependencies only', () => {
    const modules = join(runtime.dir, 'node_modules');
    for (const runtimeDependency of [
      'express',
      'bullmq',
      'ioredis',
      'undici',
      'pino',
      '@openai-proxy/shared',
    ]) {
      expect(existsSync(join(modules, runtimeDependency)), runtimeDependency).toBe(true);
    }
    for (const devTool of ['typescript', 'turbo', 'vitest', '@biomejs/biome', 'openai', 'pm2']) {
      expect(existsSync(join(modules, devTool)), devTool).toBe(false);
    }
    expect(existsSync(join(runtime.dir, 'apps/gateway/src'))).toBe(false);
  });

  it('runs the gateway and the worker farm (queue mode) and answers a non-stream request', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const compose = loadCompose({ UPSTREAM_API_URL: upstream.chatUrl });
    const common = {
      UPSTREAM_API_URL: upstream.chatUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `{test-${process.pid}-image}`,
      STATS_INTERVAL_SECONDS: '0',
      SHUTDOWN_GRACE_MS: '2000',
    };
    const gateway = start(runtime.cmd, { ...common, PORT: String(port), HOST: '127.0.0.1' });
    const worker = start(compose.services.worker?.command as string[], {
      ...common,
      WORKER_PROCESSES: '1',
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_METRICS_HOST: '127.0.0.1',
    });
    await Promise.all([gateway.waitForOutput(/gateway listening/), worker.waitForOutput(/worker ready/)]);

    const client = new OpenAI({ apiKey: 'sk-image', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'from the image' }],
    });
    expect(completion.choices[0]?.message.content).toBe('echo: from the image');

    // The image's HEALTHCHECK and the compose worker's healthcheck, run as Docker runs them.
    expect(await exitCodeOf(runtime.healthcheck ?? [], { env: { PORT: String(port) } })).toBe(0);
    const workerCheck = compose.services.worker?.healthcheck?.test as string[];
    expect(workerCheck[0]).toBe('CMD');
    expect(
      await exitCodeOf(workerCheck.slice(1), { env: { WORKER_METRICS_PORT: String(metricsPort) } }),
    ).toBe(0);

    await gateway.stop();
    expect(await exitCodeOf(runtime.healthcheck ?? [], { env: { PORT: String(port) } })).toBe(1);
  });
});

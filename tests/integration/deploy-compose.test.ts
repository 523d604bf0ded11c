import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig } from '@openai-proxy/gateway';
import { loadWorkerConfig, workerSchema } from '@openai-proxy/worker';
import { DCLinter } from 'dclint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  COMPOSE_FILE,
  type ComposeService,
  durationMs,
  interpolatedNames,
  loadCompose,
  serviceEnvironment,
} from './support/deploy/compose-file.js';
import { readRepoFile, repoPath } from './support/deploy/repo.js';
import { knownEnvVars } from './support/known-env-vars.js';

// Issue 8: docker-compose.yml, read as Compose reads it (there is no Docker engine here to run it):
// the compose-spec schema, then services, commands, scaling, healthchecks and every variable.

const UPSTREAM = 'https://upstream.example/v1/chat/completions';
const compose = loadCompose({ UPSTREAM_API_URL: UPSTREAM });
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};
const containerPath = (volume: string) => volume.split(':')[1];

describe('docker-compose.yml', () => {
  it('is valid against the compose-spec schema and free of the lint rules that matter here', () => {
    const linter = new DCLinter({
      rules: {
        'no-duplicate-container-names': 2,
        'no-duplicate-exported-ports': 2,
        'no-quotes-in-volumes': 2,
        'no-version-field': 2,
        'require-project-name-field': 2,
        'require-quotes-in-ports': 2,
        'service-image-require-explicit-tag': 2,
        // The gateway is published on every interface on purpose; the others bind 127.0.0.1.
        'no-unbound-port-interfaces': 0,
        // gateway and worker both name the image they build, so one build serves both.
        'no-build-and-image': 0,
        'service-container-name-regex': 0,
        'service-dependencies-alphabetical-order': 0,
        'service-keys-order': 0,
        'service-ports-alphabetical-order': 0,
        'services-alphabetical-order': 0,
        'top-level-properties-order': 0,
      },
      quiet: true,
      debug: false,
      exclude: [],
    });
    const [result] = linter.lintFiles([repoPath(COMPOSE_FILE)], false);
    const messages: { rule: string; message: string }[] = result?.messages ?? [
      { rule: '-', message: 'no result' },
    ];
    expect(messages.map((message) => `${message.rule}: ${message.message}`)).toEqual([]);
  });

  it('has redis, gateway, worker and prometheus, and Grafana behind the monitoring profile', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'gateway',
      'grafana',
      'prometheus',
      'redis',
      'worker',
    ]);
    for (const name of ['redis', 'gateway', 'worker', 'prometheus'])
      expect(service(name).profiles).toBeUndefined();
    expect(service('grafana').profiles).toEqual(['monitoring']);
  });

  it('runs both apps from the one image, each from a file the build produces', () => {
    for (const [name, entry] of [
      ['gateway', 'apps/gateway/dist/main.js'],
      ['worker', 'apps/worker/dist/main.js'],
    ] as const) {
      expect(service(name).build).toBe('.');
      expect(service(name).image).toBe(service('gateway').image);
      expect(service(name).command).toEqual(['node', entry]);
      expect(existsSync(repoPath(entry)), entry).toBe(true);
    }
    expect(service('gateway').ports).toEqual(['3000:3000']);
  });

  it('lets `--scale worker=N` start N workers: no fixed names, no published ports', () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      expect(definition.container_name, name).toBeUndefined();
    }
    expect(service('worker').ports).toBeUndefined();
  });

  it('health-checks Redis with redis-cli ping and the worker on its metrics port', () => {
    expect(service('redis').healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    const workerCheck = [service('worker').healthcheck?.test ?? []].flat().join(' ');
    expect(workerCheck).toContain('WORKER_METRICS_PORT || 9464');
    expect(workerCheck).toContain('/health');
    // The gateway keeps the image's HEALTHCHECK.
    expect(service('gateway').healthcheck).toBeUndefined();
    for (const name of ['gateway', 'worker']) {
      expect(service(name).depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    }
  });

  it('keeps Redis for BullMQ: noeviction, an append-only file on a volume, no published port', () => {
    const command = (service('redis').command as string[]).join(' ');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--appendonly yes');
    expect(service('redis').volumes).toEqual(['redis-data:/data']);
    expect(service('redis').ports).toBeUndefined();
  });

  it('gives the apps longer to stop than their own shutdown grace period', () => {
    const grace = workerSchema.parse({ UPSTREAM_API_URL: UPSTREAM }).SHUTDOWN_GRACE_MS;
    for (const name of ['gateway', 'worker']) {
      expect(durationMs(service(name).stop_grace_period ?? '10s')).toBeGreaterThan(grace);
      expect(service(name).init).toBe(true);
    }
  });
});

describe('docker-compose.yml variables', () => {
  it('sets only variables of the config schema', () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      for (const variable of Object.keys(definition.environment ?? {})) {
        expect(knownEnvVars, `${name}: ${variable}`).toContain(variable);
      }
    }
  });

  it('reads only variables of the config schema from the shell or .env', () => {
    const names = interpolatedNames(readRepoFile(COMPOSE_FILE));
    expect(names).toContain('UPSTREAM_API_URL');
    for (const name of names) expect(knownEnvVars).toContain(name);
  });

  it('gives each app a configuration it accepts, in queue mode against the redis service', () => {
    const gateway = loadGatewayConfig(serviceEnvironment(service('gateway')));
    const worker = loadWorkerConfig(serviceEnvironment(service('worker')));
    for (const config of [gateway, worker]) {
      expect(config.REDIS_URL).toBe('redis://redis:6379');
      expect(config.UPSTREAM_API_URL).toEqual([UPSTREAM]);
    }
    expect(gateway.PORT).toBe(3000);
    expect(gateway.HOST).toBe('0.0.0.0');
    expect(worker.WORKER_PROCESSES).toBe(1);
    expect(worker.WORKER_METRICS_HOST).toBe('0.0.0.0');
  });

  it('resolves without either upstream variable; the apps then refuse to start, naming both', () => {
    const bare = loadCompose({});
    for (const name of ['gateway', 'worker']) {
      const environment = serviceEnvironment(bare.services[name] as ComposeService);
      expect(environment).toMatchObject({ UPSTREAM_API_URL: '', UPSTREAMS_FILE: '' });
      const load = name === 'gateway' ? loadGatewayConfig : loadWorkerConfig;
      expect(() => load(environment)).toThrow(/UPSTREAM_API_URL.*UPSTREAMS_FILE/s);
    }
  });
});

describe('docker-compose.yml with a routing file (UPSTREAMS_FILE)', () => {
  const KEY = 'sk-from-dot-env';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'compose-upstreams-'));
    writeFileSync(
      join(dir, 'upstreams.yaml'),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the routing file's own `${NAME}`
      'upstreams:\n  - url: https://routed.example/v1/chat/completions\n    key: ${ROUTED_KEY}\n    models: [routed-model]\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('mounts the named file where UPSTREAMS_FILE points inside, and each app loads it, keys from .env', () => {
    const hostFile = join(dir, 'upstreams.yaml');
    // .env as Compose reads it: for interpolation, and (env_file) for the containers.
    const dotEnv = { UPSTREAMS_FILE: hostFile, ROUTED_KEY: KEY };
    const routed = loadCompose(dotEnv);
    for (const name of ['gateway', 'worker']) {
      const app = routed.services[name] as ComposeService;
      expect(app.env_file).toEqual([{ path: '.env', required: false }]);
      const environment: Record<string, string> = { ...dotEnv, ...serviceEnvironment(app) };
      expect(environment.UPSTREAM_API_URL).toBe('');
      const inside = environment.UPSTREAMS_FILE;
      expect(inside).toMatch(/^\//);
      // The container's path, replaced by the host file its mount shows there.
      const source = mountSource(app, inside as string);
      expect(source).toBe(hostFile);
      const load = name === 'gateway' ? loadGatewayConfig : loadWorkerConfig;
      const config = load({ ...environment, UPSTREAMS_FILE: source });
      expect(config.UPSTREAMS_FILE).toBe(hostFile);
      expect(config.UPSTREAM_API_URL).toEqual([]);
      // The file's `key: ${ROUTED_KEY}` is read at start: without .env's value it is refused.
      expect(() => load({ ...serviceEnvironment(app), UPSTREAMS_FILE: source })).toThrow(/ROUTED_KEY/);
    }
  });

  it('without UPSTREAMS_FILE, mounts the example file, unread, at the same path', () => {
    for (const name of ['gateway', 'worker']) {
      const source = mountSource(service(name), '/etc/openai-proxy/upstreams.yaml');
      expect(source).toBe('./deploy/upstreams.example.yaml');
      expect(serviceEnvironment(service(name)).UPSTREAMS_FILE).toBe('');
    }
    // The example is a routing file the apps accept, once its keys are set.
    const example = repoPath('deploy/upstreams.example.yaml');
    const env = { UPSTREAMS_FILE: example, OPENAI_KEY: 'sk-a', DEEPSEEK_KEY: 'sk-b' };
    expect(loadGatewayConfig(env).UPSTREAMS_FILE).toBe(example);
    expect(loadWorkerConfig(env).UPSTREAMS_FILE).toBe(example);
  });

  it('refuses both at once: the apps name both variables', () => {
    const both = loadCompose({ UPSTREAM_API_URL: UPSTREAM, UPSTREAMS_FILE: join(dir, 'upstreams.yaml') });
    const environment = serviceEnvironment(both.services.gateway as ComposeService);
    expect(() => loadGatewayConfig({ ...environment, UPSTREAMS_FILE: join(dir, 'upstreams.yaml') })).toThrow(
      /UPSTREAM_API_URL, UPSTREAMS_FILE: both are set/,
    );
  });
});

/** The host path a service's bind mount shows at `target` inside its containers. */
function mountSource(app: ComposeService, target: string): string | undefined {
  for (const volume of app.volumes ?? []) {
    const [source, mounted] = volume.split(':');
    if (mounted === target) return source;
  }
  return undefined;
}

describe('monitoring in docker-compose.yml', () => {
  interface DnsTarget {
    names: string[];
    port: number;
  }
  interface ScrapeConfig {
    job_name: string;
    dns_sd_configs?: DnsTarget[];
  }

  it('mounts the Prometheus configuration, which finds the gateway and every worker replica by DNS', () => {
    const mount = service('prometheus').volumes?.find((volume) =>
      volume.endsWith(':/etc/prometheus/prometheus.yml:ro'),
    );
    expect(mount).toBe('./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    const prometheus = parse(readRepoFile('deploy/prometheus.yml')) as { scrape_configs: ScrapeConfig[] };
    const targets = prometheus.scrape_configs.flatMap((job) => job.dns_sd_configs ?? []);
    const gateway = loadGatewayConfig(serviceEnvironment(service('gateway')));
    const worker = loadWorkerConfig(serviceEnvironment(service('worker')));
    expect(targets).toContainEqual(expect.objectContaining({ names: ['gateway'], port: gateway.PORT }));
    expect(targets).toContainEqual(
      expect.objectContaining({ names: ['worker'], port: worker.WORKER_METRICS_PORT }),
    );
  });

  it('provisions Grafana from deploy/grafana, with the dashboards where the provider looks', () => {
    const volumes = service('grafana').volumes ?? [];
    for (const volume of volumes.filter((v) => v.startsWith('./'))) {
      expect(existsSync(repoPath(volume.split(':')[0] as string)), volume).toBe(true);
    }
    expect(volumes.map(containerPath)).toContain('/etc/grafana/provisioning');
    const provider = parse(readRepoFile('deploy/grafana/provisioning/dashboards/openai-proxy.yml')) as {
      providers: { options: { path: string } }[];
    };
    const dashboards = volumes.find((v) => v.startsWith('./deploy/grafana/dashboards:'));
    expect(dashboards && containerPath(dashboards)).toBe(provider.providers[0]?.options.path);
  });

  it('publishes Prometheus and Grafana on loopback only', () => {
    expect(service('prometheus').ports).toEqual(['127.0.0.1:9090:9090']);
    expect(service('grafana').ports).toEqual(['127.0.0.1:3001:3000']);
  });
});

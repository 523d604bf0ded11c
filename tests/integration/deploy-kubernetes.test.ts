import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { gatewayVars, loadGatewayConfig } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { queueNames } from '@openai-proxy/shared';
import { type AppProcess, freePort, startApp, startRedis, type TestRedis } from '@openai-proxy/test-support';
import { loadWorkerConfig, workerVars } from '@openai-proxy/worker';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoPath } from './support/deploy/repo.js';

// deploy/kubernetes, offline (no cluster runs here): the base rendered by the real
// `kubectl kustomize`, alone and with the optional monitoring component; every object checked
// against the Kubernetes, KEDA and Prometheus Operator schemas (kubernetes-models); the
// environment each Deployment gives its container accepted by that app's config schema, and
// then run: a gateway and a worker farm started with it answer their probes' paths on the
// ports the probes name; names and selectors that must meet do; the lists KEDA reads are the
// ones BullMQ keeps the queue's jobs in.

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, checked by the schemas below
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** The schema of every kind the base and its component may render. */
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'apps/v1/Deployment': apps.Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': keda.ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': keda.TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
};

function kustomize(dir: string): K8sObject[] {
  const yaml = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(yaml).map((document) => document.toJS() as K8sObject);
}

const BASE = repoPath('deploy/kubernetes');
let base: K8sObject[];
let withMonitoring: K8sObject[];

const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} rendered`);
  return found;
};

interface Container {
  name: string;
  ports?: Array<{ name: string; containerPort: number }>;
  env?: Array<{ name: string; value: string }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
}

const containerOf = (deployment: K8sObject): Container => deployment.spec.template.spec.containers[0];

/** The environment a container gets: its ConfigMaps' and Secrets' keys, then its own `env`. */
function environmentOf(deployment: K8sObject): Record<string, string> {
  const container = containerOf(deployment);
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const from = source.configMapRef
      ? find(base, 'ConfigMap', source.configMapRef.name).data
      : find(base, 'Secret', source.secretRef?.name ?? '').stringData;
    Object.assign(env, from);
  }
  for (const variable of container.env ?? []) env[variable.name] = variable.value;
  return env;
}

const portNamed = (container: Container, name: string) =>
  container.ports?.find((port) => port.name === name)?.containerPort;

/** `500m` → 0.5, `1` → 1; `256Mi` → bytes. */
const quantity = (value: string): number => {
  const units: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?$/.exec(value);
  if (match === null) throw new Error(`not a quantity: ${value}`);
  return Number(match[1]) * (match[2] ? (units[match[2]] as number) : 1);
};

let redis: TestRedis;
let upstream: MockUpstream;
const started: AppProcess[] = [];

beforeAll(async () => {
  base = kustomize(BASE);
  const overlay = mkdtempSync(join(tmpdir(), 'kustomize-overlay-'));
  try {
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${relative(overlay, BASE)}]`,
        `components: [${relative(overlay, join(BASE, 'monitoring'))}]`,
        '',
      ].join('\n'),
    );
    withMonitoring = kustomize(overlay);
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
  [redis, upstream] = await Promise.all([startRedis(), startMockUpstream({ name: 'kubernetes' })]);
});

afterAll(async () => {
  await Promise.all(started.map((app) => app.stop()));
  await Promise.all([upstream?.close(), redis?.stop()]);
});

describe('deploy/kubernetes rendered by kubectl kustomize', () => {
  it('holds the objects the README names, and each passes its schema', () => {
    const kinds = base.map((object) => `${object.kind}/${object.metadata.name}`).sort();
    expect(kinds).toEqual([
      'ConfigMap/openai-proxy',
      'Deployment/openai-proxy-gateway',
      'Deployment/openai-proxy-worker',
      'HorizontalPodAutoscaler/openai-proxy-gateway',
      'PodDisruptionBudget/openai-proxy-gateway',
      'PodDisruptionBudget/openai-proxy-worker',
      'ScaledObject/openai-proxy-worker',
      'Secret/openai-proxy',
      'Secret/openai-proxy-keda-redis',
      'Service/openai-proxy-gateway',
      'TriggerAuthentication/openai-proxy-keda-redis',
    ]);
    for (const object of withMonitoring) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new (Model as ModelClass)(object as never).validate(), object.metadata.name).not.toThrow();
      expect(object.metadata.labels?.['app.kubernetes.io/part-of']).toBe('openai-proxy');
    }
  });

  it('schemas catch a broken object (the check is not a formality)', () => {
    const scaledObject = structuredClone(find(base, 'ScaledObject', 'openai-proxy-worker'));
    scaledObject.spec.minReplicaCount = 'zero';
    expect(() => new keda.ScaledObject(scaledObject as never).validate()).toThrow(/minReplicaCount/);
    const deployment = structuredClone(find(base, 'Deployment', 'openai-proxy-gateway'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new apps.Deployment(deployment as never).validate()).toThrow(/containerPort/);
  });

  it('sets only variables the apps read, with values their config schemas accept', () => {
    const gatewayEnv = environmentOf(find(base, 'Deployment', 'openai-proxy-gateway'));
    const workerEnv = environmentOf(find(base, 'Deployment', 'openai-proxy-worker'));
    for (const name of Object.keys(gatewayEnv)) expect(Object.keys(gatewayVars), name).toContain(name);
    for (const name of Object.keys(workerEnv)) expect(Object.keys(workerVars), name).toContain(name);
    expect(() => loadGatewayConfig(gatewayEnv)).not.toThrow();
    expect(() => loadWorkerConfig(workerEnv)).not.toThrow();
  });

  it('gives each pod longer to stop than the app takes to finish its work', () => {
    for (const name of ['openai-proxy-gateway', 'openai-proxy-worker']) {
      const deployment = find(base, 'Deployment', name);
      const config = loadWorkerConfig(environmentOf(deployment));
      const preStop = containerOf(deployment).lifecycle?.preStop?.exec?.command;
      const preStopMs = preStop?.[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000, name).toBeGreaterThan(
        config.SHUTDOWN_GRACE_MS + preStopMs,
      );
    }
  });

  it('requests and limits resources for every container', () => {
    for (const deployment of base.filter((object) => object.kind === 'Deployment')) {
      const { requests, limits } = containerOf(deployment).resources;
      for (const resource of ['cpu', 'memory']) {
        expect(quantity(requests[resource] as string)).toBeGreaterThan(0);
        expect(quantity(requests[resource] as string)).toBeLessThanOrEqual(
          quantity(limits[resource] as string),
        );
      }
    }
  });

  it('joins what must meet: selectors, target ports, scale targets', () => {
    const objects = withMonitoring;
    const podLabels = (name: string) => find(objects, 'Deployment', name).spec.template.metadata.labels;
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([key, value]) => labels[key] === value);
    for (const deployment of objects.filter((object) => object.kind === 'Deployment')) {
      expect(matches(deployment.spec.selector.matchLabels, podLabels(deployment.metadata.name))).toBe(true);
    }
    const gatewayPods = podLabels('openai-proxy-gateway');
    const workerPods = podLabels('openai-proxy-worker');
    const service = find(objects, 'Service', 'openai-proxy-gateway');
    expect(matches(service.spec.selector, gatewayPods)).toBe(true);
    const gateway = containerOf(find(objects, 'Deployment', 'openai-proxy-gateway'));
    expect(portNamed(gateway, service.spec.ports[0].targetPort)).toBeDefined();
    expect(
      matches(
        find(objects, 'PodDisruptionBudget', 'openai-proxy-gateway').spec.selector.matchLabels,
        gatewayPods,
      ),
    ).toBe(true);
    expect(
      matches(
        find(objects, 'PodDisruptionBudget', 'openai-proxy-worker').spec.selector.matchLabels,
        workerPods,
      ),
    ).toBe(true);
    expect(find(objects, 'HorizontalPodAutoscaler', 'openai-proxy-gateway').spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'openai-proxy-gateway',
    });
    const scaledObject = find(objects, 'ScaledObject', 'openai-proxy-worker');
    expect(scaledObject.spec.scaleTargetRef.name).toBe('openai-proxy-worker');
    for (const trigger of scaledObject.spec.triggers) {
      const auth = find(objects, 'TriggerAuthentication', trigger.authenticationRef.name);
      for (const ref of auth.spec.secretTargetRef) {
        expect(find(objects, 'Secret', ref.name).stringData?.[ref.key], ref.key).toBeDefined();
      }
    }
    // Each ServiceMonitor selects a Service that has the port it scrapes, and that Service's
    // pods serve /metrics there.
    for (const monitor of objects.filter((object) => object.kind === 'ServiceMonitor')) {
      const services = objects.filter(
        (object) =>
          object.kind === 'Service' &&
          matches(monitor.spec.selector.matchLabels, object.metadata.labels ?? {}),
      );
      expect(services, monitor.metadata.name).toHaveLength(1);
      const endpoint = monitor.spec.endpoints[0];
      const target = (services[0] as K8sObject).spec.ports.find(
        (port: { name: string }) => port.name === endpoint.port,
      );
      expect(target, monitor.metadata.name).toBeDefined();
      expect(endpoint.path).toBe('/metrics');
    }
  });

  it('scales workers on the lists BullMQ keeps the queue in, from zero only with gateways that wait for them', async () => {
    const gatewayEnv = environmentOf(find(base, 'Deployment', 'openai-proxy-gateway'));
    const prefix = loadGatewayConfig(gatewayEnv).QUEUE_PREFIX;
    const scaledObject = find(base, 'ScaledObject', 'openai-proxy-worker');
    const lists = scaledObject.spec.triggers.map(
      (trigger: { metadata: { listName: string } }) => trigger.metadata.listName,
    );
    expect(lists).toEqual([`${prefix}:completions:wait`, `${prefix}:completions:active`]);
    if (scaledObject.spec.minReplicaCount === 0) {
      expect(loadGatewayConfig(gatewayEnv).NO_WORKERS_REFUSE_AFTER_MS).toBe(0);
    }
    // A job queued the way the gateway queues one is counted by LLEN on the wait list, the
    // command KEDA's redis scaler runs.
    const names = queueNames(prefix);
    const queue = new Queue(names.queue, { connection: { url: redis.url }, prefix: names.prefix });
    const client = new Redis(redis.url);
    try {
      await queue.add('chat', { waiting: true }, { jobId: 'k8s-wait-check' });
      expect(await client.type(lists[0])).toBe('list');
      expect(await client.llen(lists[0])).toBe(1);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      client.disconnect();
    }
  });

  it('probes paths the apps answer, on the ports the probes name', async () => {
    const gatewayDeployment = find(base, 'Deployment', 'openai-proxy-gateway');
    const workerDeployment = find(base, 'Deployment', 'openai-proxy-worker');
    const gatewayContainer = containerOf(gatewayDeployment);
    const workerContainer = containerOf(workerDeployment);
    const gatewayEnv = environmentOf(gatewayDeployment);
    const workerEnv = environmentOf(workerDeployment);
    // The probes' named ports are the ports the apps listen on.
    expect(portNamed(gatewayContainer, gatewayContainer.livenessProbe.httpGet.port)).toBe(
      Number(gatewayEnv.PORT),
    );
    expect(portNamed(gatewayContainer, gatewayContainer.readinessProbe.httpGet.port)).toBe(
      Number(gatewayEnv.PORT),
    );
    expect(portNamed(workerContainer, workerContainer.livenessProbe.httpGet.port)).toBe(
      Number(workerEnv.WORKER_METRICS_PORT),
    );
    // Run both with the manifests' environment; only where Redis and the upstream are, and the
    // ports (free ones here), differ.
    const here = {
      REDIS_URL: redis.url,
      UPSTREAM_API_URL: upstream.chatUrl,
      QUEUE_PREFIX: `{k8s-${process.pid}}`,
      STATS_INTERVAL_SECONDS: '0',
    };
    const [gatewayPort, workerPort] = [await freePort(), await freePort()];
    const [gatewayApp, workerApp] = await Promise.all([
      startApp('gateway', { ...gatewayEnv, ...here, PORT: String(gatewayPort), HOST: '127.0.0.1' }),
      startApp('worker', {
        ...workerEnv,
        ...here,
        WORKER_METRICS_PORT: String(workerPort),
        WORKER_METRICS_HOST: '127.0.0.1',
      }),
    ]);
    started.push(gatewayApp, workerApp);
    for (const probe of [gatewayContainer.livenessProbe, gatewayContainer.readinessProbe]) {
      expect(
        (await fetch(`http://127.0.0.1:${gatewayPort}${probe.httpGet.path}`)).status,
        probe.httpGet.path,
      ).toBe(200);
    }
    for (const probe of [workerContainer.livenessProbe, workerContainer.readinessProbe]) {
      expect(
        (await fetch(`http://127.0.0.1:${workerPort}${probe.httpGet.path}`)).status,
        probe.httpGet.path,
      ).toBe(200);
    }
  });
});

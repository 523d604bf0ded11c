import { readFile } from 'node:fs/promises';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { commandOnPath } from './support/deploy/command-on-path.js';
import { startPrometheus, type TestPrometheus } from './support/prometheus-server.js';

// The shipped Grafana dashboard against reality: a real Prometheus, configured from
// deploy/prometheus.yml (its job names, a 1 s scrape), scrapes a gateway and a worker farm while
// they serve a known mix (folded and streamed answers, upstream errors, a refused request), and
// every panel's expression is evaluated through Prometheus's HTTP API: each must parse, name only
// metrics the processes export, and return numbers. .ci/run installs prometheus.

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string; refId: string }[];
}

const dashboard = JSON.parse(
  await readFile(new URL('../../deploy/grafana/dashboards/openai-proxy.json', import.meta.url), 'utf8'),
) as { panels: Panel[] };
const targets = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title, refId: target.refId, expr: target.expr })),
);

/**
 * Grafana's `$__rate_interval` is at least four scrape intervals; over the whole run here, so a
 * rate sees every request of the mix.
 */
const asPrometheusQuery = (expr: string) => expr.replaceAll('$__rate_interval', '1m');

/** Metric names in an expression: ours and the runtime's (`process_*`, `nodejs_*`). */
const metricNamesIn = (expr: string) => expr.match(/\b(openai_proxy|process|nodejs)_\w+/g) ?? [];

let stack: Stack<'dash', { gateway: { run: 'in-process' } }, 'farm'>;
let upstream: MockUpstream;
let gateway: InProcessGateway;
let worker: AppProcess;
let prometheus: TestPrometheus | undefined;

const client = () => new OpenAI({ apiKey: 'sk-dashboard', baseURL: `${gateway.url}/v1`, maxRetries: 0 });

/** One round of the mix; its worker jobs, for waiting until Prometheus scraped them. */
async function sendMix(): Promise<number> {
  for (let i = 0; i < 3; i += 1)
    await client().chat.completions.create({
      model: 'dash-model',
      messages: [{ role: 'user', content: `hi ${i}` }],
    });
  for (let i = 0; i < 2; i += 1) {
    const stream = await client().chat.completions.create({
      model: 'dash-model',
      messages: [{ role: 'user', content: 'stream' }],
      stream: true,
    });
    for await (const _chunk of stream) {
      // Read it to the end.
    }
  }
  upstream.enqueue({ kind: 'status', status: 500 });
  await expect(
    client().chat.completions.create({ model: 'dash-model', messages: [{ role: 'user', content: 'fail' }] }),
  ).rejects.toMatchObject({ status: 500 });
  const invalid = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'dash-model' }),
  });
  expect(invalid.status).toBe(400);
  return 4;
}

/** Waits until Prometheus holds the worker farm's count of `jobs`, so every series is scraped. */
async function scrapedJobs(jobs: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  const expr = 'sum(openai_proxy_worker_jobs_total)';
  for (;;) {
    const [sample] = (await prometheus?.query(expr)) ?? [];
    // The gateway is scraped in the same second; one more interval makes sure of it.
    if (sample?.value === jobs) return new Promise((resolve) => setTimeout(resolve, 1_100));
    if (Date.now() > deadline) throw new Error(`${expr} did not reach ${jobs} (last: ${sample?.value})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  stack = await startStack({
    redis: true,
    upstreams: ['dash'],
    env: { QUEUE_PREFIX: `{test-${process.pid}-obs-dashboard}`, UPSTREAM_COOLDOWN_MS: '0' },
    gateways: { gateway: { run: 'in-process' } },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
  upstream = stack.upstreams.dash;
  gateway = stack.gateways.gateway;
  worker = stack.workers.farm;
  const binary = commandOnPath('prometheus');
  if (binary === undefined) return;
  // deploy/prometheus.yml as shipped, with its job names; static targets instead of compose's DNS.
  const shipped = parse(await readFile(new URL('../../deploy/prometheus.yml', import.meta.url), 'utf8')) as {
    scrape_configs: { job_name: string; metrics_path: string }[];
  };
  const targetOf: Record<string, string> = {
    'openai-proxy-gateway': new URL(gateway.url).host,
    'openai-proxy-worker': new URL(worker.url).host,
  };
  const scrapeConfigs = shipped.scrape_configs
    .filter((job) => targetOf[job.job_name] !== undefined)
    .map((job) => ({
      job_name: job.job_name,
      metrics_path: job.metrics_path,
      static_configs: [{ targets: [targetOf[job.job_name]] }],
    }));
  expect(scrapeConfigs.map((job) => job.job_name).sort()).toEqual(Object.keys(targetOf).sort());
  prometheus = await startPrometheus(binary, {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: scrapeConfigs,
  });
  // Both targets up before the mix, so its first requests count as increases.
  const deadline = Date.now() + 20_000;
  while ((await prometheus.query('sum(up)'))[0]?.value !== 2) {
    if (Date.now() > deadline) throw new Error('prometheus did not scrape both targets');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // Twice: labelled series appear with the first round's requests, and a rate needs them to grow.
  const jobs = await sendMix();
  await scrapedJobs(jobs);
  await sendMix();
  await scrapedJobs(2 * jobs);
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await stack?.stop();
});

describe('the Grafana dashboard, evaluated by Prometheus after the mix', () => {
  it('has the panels it is known for', () => {
    expect(targets.length).toBeGreaterThan(15);
  });

  it.for(targets)(
    '$panel ($refId): parses, names exported metrics, returns numbers',
    async (target, context) => {
      if (prometheus === undefined) {
        context.skip(
          'prometheus is not installed: the dashboard was not evaluated (apt-get install prometheus)',
        );
        return;
      }
      const names = await prometheus.metricNames();
      const used = metricNamesIn(target.expr);
      expect(used.length, target.expr).toBeGreaterThan(0);
      for (const name of used) expect(names.has(name), `${name} in ${target.expr}`).toBe(true);
      const samples = await prometheus.query(asPrometheusQuery(target.expr));
      expect(samples.length, `${target.expr} returned nothing`).toBeGreaterThan(0);
      expect(
        samples.some((sample) => Number.isFinite(sample.value)),
        `${target.expr} returned only ${samples.map((sample) => sample.value).join(', ')}`,
      ).toBe(true);
    },
  );
});

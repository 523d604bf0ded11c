import { loadGatewayConfig, type RunningGateway, startGateway } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { createLogger } from '@openai-proxy/shared';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';
import { upstreamsFileDir } from './support/upstreams-file.js';

// Active health checks: an upstream with `health_check` that cools down after a failure of its own
// is probed (GET /v1/models) every second and back in service as soon as it answers, not after
// its ten-minute cool-down; one without a probe waits out its timer, and one that said when to
// come back (Retry-After) is not probed before then.

let probed: MockUpstream;
let unprobed: MockUpstream;
let toldToWait: MockUpstream;
let gateway: RunningGateway;
const files = upstreamsFileDir();

beforeAll(async () => {
  probed = await startMockUpstream({ name: 'probed' });
  unprobed = await startMockUpstream({ name: 'unprobed' });
  toldToWait = await startMockUpstream({ name: 'told-to-wait' });
  const file = files.write(
    'upstreams.yaml',
    [
      'upstreams:',
      `  - url: ${probed.chatUrl}`,
      '    health_check: true',
      `  - url: ${unprobed.chatUrl}`,
      `  - url: ${toldToWait.chatUrl}`,
      '    health_check: /models',
    ].join('\n'),
  );
  const config = loadGatewayConfig({
    UPSTREAMS_FILE: file,
    UPSTREAM_COOLDOWN_MS: '600000',
    UPSTREAM_COOLDOWN_MAX_MS: '600000',
    PORT: '0',
    HOST: '127.0.0.1',
    STATS_INTERVAL_SECONDS: '0',
  });
  gateway = await startGateway(config, createLogger({ name: 'gateway', level: 'silent' }));
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([probed, unprobed, toldToWait].map((upstream) => upstream?.close()));
  files.remove();
});

const completions = (upstream: MockUpstream) => upstream.stats.byPath['/v1/chat/completions'] ?? 0;
const probes = (upstream: MockUpstream) => upstream.stats.byPath['/v1/models'] ?? 0;

it('brings a cooled-down upstream back as soon as its probe answers, and only that one', async () => {
  probed.enqueue({ kind: 'status', status: 503 });
  unprobed.enqueue({ kind: 'status', status: 500 });
  toldToWait.enqueue({ kind: 'status', status: 429, headers: { 'retry-after': '600' } });
  const failed = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('all fail'));
  expect(failed.status).toBeGreaterThanOrEqual(429);
  expect([probed, unprobed, toldToWait].map(completions)).toEqual([1, 1, 1]);

  // All three cool down for ten minutes; within about a second the probe finds `probed` answering.
  await eventually(() => probes(probed) >= 1, 5_000);
  const before = [probed, unprobed, toldToWait].map(completions);
  for (let i = 0; i < 4; i += 1) {
    const answer = await postJson(`${gateway.url}/v1/chat/completions`, chatBody(`after ${i}`));
    expect(answer.status).toBe(200);
  }
  expect(
    [probed, unprobed, toldToWait].map((upstream, i) => completions(upstream) - (before[i] ?? 0)),
  ).toEqual([4, 0, 0]);
  // Never probed: one has no health_check, the other said when to come back.
  expect(probes(unprobed)).toBe(0);
  expect(probes(toldToWait)).toBe(0);
});

import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, startApp } from '@openai-proxy/test-support';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// No hidden waits: with every connection to an upstream held by a stream, the next requests wait
// in undici's queue. That wait shows in /metrics (how many wait now, how long each waited), in
// /admin/status, and in a warning naming the setting to raise.

let upstream: MockUpstream;
let gateway: AppProcess;

beforeAll(async () => {
  // About 2 s a stream: 20 events 100 ms apart.
  upstream = await startMockUpstream({
    name: 'narrow',
    defaultBehavior: { kind: 'echo', chunkDelayMs: 100, words: 20 },
  });
  gateway = await startApp('gateway', {
    UPSTREAM_API_URL: upstream.chatUrl,
    UPSTREAM_CONNECTIONS: '2',
    ADMIN_API_KEYS: 'admin-key',
  });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});

const metricValue = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);

it('requests waiting for an upstream connection show in metrics, /admin/status and the log', async () => {
  const requests = Array.from({ length: 6 }, (_unused, index) =>
    postJson(`${gateway.url}/v1/chat/completions`, chatBody(`wait ${index}`)),
  );
  // Two streams run, four wait for a connection (once all six reached the gateway).
  let metrics = '';
  const queued = () =>
    metricValue(metrics, /openai_proxy_upstream_connections\{upstream="[^"]+",state="queued"\} (\d+)/);
  await eventually(async () => {
    metrics = await fetch(`${gateway.url}/metrics`).then((response) => response.text());
    return queued() === 4;
  }, 1_500);
  expect(
    metricValue(metrics, /openai_proxy_upstream_connections\{upstream="[^"]+",state="running"\} (\d+)/),
  ).toBe(2);
  const status = (await fetch(`${gateway.url}/admin/status`, {
    headers: { authorization: 'Bearer admin-key' },
  }).then((response) => response.json())) as {
    upstreams: { connections: { queued: number; running: number } }[];
  };
  expect(status.upstreams[0]?.connections).toMatchObject({ queued: 4, running: 2 });

  for (const answer of await Promise.all(requests)) expect(answer.status).toBe(200);
  const after = await fetch(`${gateway.url}/metrics`).then((response) => response.text());
  expect(
    metricValue(after, /openai_proxy_upstream_connection_wait_seconds_count\{upstream="[^"]+"\} (\d+)/),
  ).toBe(6);
  // The four that waited did so for a stream's length (about 2 s), at least once over.
  expect(
    metricValue(after, /openai_proxy_upstream_connection_wait_seconds_sum\{upstream="[^"]+"\} ([\d.]+)/),
  ).toBeGreaterThan(6);
  expect(
    metricValue(after, /openai_proxy_upstream_connections\{upstream="[^"]+",state="queued"\} (\d+)/),
  ).toBe(0);
  await eventually(() => gateway.output.some((line) => line.includes('raise UPSTREAM_CONNECTIONS')), 6_000);
}, 30_000);

import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, startInProcessGateway } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postJson } from './support/http.js';

// Probes come every few seconds from every balancer and scraper: their request lines are debug,
// so the info log is the traffic; other requests are logged at info as before. A standalone
// gateway's /ready reports no queue check: it has no queue. In-process gateways, their log lines
// kept as they would be printed.

let upstream: MockUpstream;
let atInfo: InProcessGateway;
let atDebug: InProcessGateway;

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'probes' });
  atInfo = await startInProcessGateway({ UPSTREAM_API_URL: upstream.chatUrl, LOG_LEVEL: 'info' });
  atDebug = await startInProcessGateway({ UPSTREAM_API_URL: upstream.chatUrl, LOG_LEVEL: 'debug' });
});

afterAll(async () => {
  await Promise.all([atInfo?.stop(), atDebug?.stop()]);
  await upstream?.close();
});

const PROBES = ['/health', '/ready', '/metrics'] as const;

interface RequestLine {
  level: number;
  msg: string;
  path: string;
  requestId: string;
}

const requestLines = (gateway: InProcessGateway) =>
  gateway.output.map((line) => JSON.parse(line) as RequestLine).filter((line) => line.msg === 'request');

async function probeAll(gateway: InProcessGateway): Promise<void> {
  for (const path of PROBES) expect((await fetch(`${gateway.url}${path}`)).status).toBe(200);
}

describe('request lines of probes', () => {
  it('are not written at LOG_LEVEL=info, while other requests are', async () => {
    await probeAll(atInfo);
    // A request after the probes: once its line is out, theirs would have been too.
    const id = 'after-the-probes';
    expect(
      (await postJson(`${atInfo.url}/v1/chat/completions`, chatBody('hi'), { 'x-request-id': id })).status,
    ).toBe(200);
    await atInfo.waitForOutput(`"requestId":"${id}"`);
    const lines = requestLines(atInfo);
    expect(lines.find((line) => line.requestId === id)).toMatchObject({
      level: 30,
      path: '/v1/chat/completions',
    });
    expect(lines.filter((line) => (PROBES as readonly string[]).includes(line.path))).toEqual([]);
  });

  it('are written at debug', async () => {
    await probeAll(atDebug);
    for (const path of PROBES) await atDebug.waitForOutput(new RegExp(`"path":"${path}".*"msg":"request"`));
    const probes = requestLines(atDebug).filter((line) => (PROBES as readonly string[]).includes(line.path));
    expect(probes.map((line) => [line.path, line.level])).toEqual(PROBES.map((path) => [path, 20]));
  });
});

describe('/ready of a standalone gateway', () => {
  it('is ready with no checks: no queue, no workers to report', async () => {
    const response = await fetch(`${atInfo.url}/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', mode: 'standalone', checks: {} });
  });
});

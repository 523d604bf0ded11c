import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readyWorkerPids } from './support/worker-pids.js';

// GET /admin/status and the queue dashboard's JSON API as scripts use them: absent without
// ADMIN_API_KEYS, refused without one of them, read-only unless ADMIN_QUEUE_ACTIONS, request
// bodies shown only with ADMIN_SHOW_CONTENT and client keys never; in standalone mode a status
// without a queue. (The browser's view: admin-dashboard.test.ts.)

const ADMIN_KEY = `admin-${randomUUID()}`;
const CLIENT_KEY = `sk-client-${randomUUID()}`;
const PROMPT = `a private question ${randomUUID()}`;
const admin = { ADMIN_API_KEYS: ADMIN_KEY, SHUTDOWN_GRACE_MS: '200' };

let stack: Stack<
  'one',
  {
    plain: { run: 'in-process' };
    readOnly: { run: 'in-process' };
    actions: { run: 'in-process' };
    standalone: { run: 'in-process'; standalone: true };
  },
  'farm'
>;
let upstream: MockUpstream;

beforeAll(async () => {
  stack = await startStack({
    redis: true,
    upstreams: ['one'],
    env: { QUEUE_PREFIX: `{test-${process.pid}-admin-status}`, UPSTREAM_COOLDOWN_MS: '60000' },
    gateways: {
      plain: { run: 'in-process' },
      readOnly: {
        run: 'in-process',
        env: { ...admin, MAX_INFLIGHT: '77', RATE_LIMIT_REQUESTS: '1000', RATE_LIMIT_WINDOW_SECONDS: '60' },
      },
      actions: {
        run: 'in-process',
        env: { ...admin, ADMIN_QUEUE_ACTIONS: 'true', ADMIN_SHOW_CONTENT: 'true' },
      },
      standalone: { run: 'in-process', standalone: true, env: admin },
    },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
  upstream = stack.upstreams.one;
});

afterAll(() => stack?.stop());

const asAdmin = { authorization: `Bearer ${ADMIN_KEY}` };

async function getJson(gateway: InProcessGateway, path: string, headers: Record<string, string> = asAdmin) {
  const response = await fetch(`${gateway.url}${path}`, { headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

interface Status {
  mode: string;
  version: string;
  uptimeSeconds: number;
  redis: string;
  upstreams: { label: string; healthy: boolean; consecutiveFailures: number; coolingDownForMs: number }[];
  workers: { alive: number; ids: string[]; refusingNewJobs: boolean } | null;
  queue: Record<string, number> | null;
  inFlight: number;
  limits: Record<string, unknown>;
}

async function status(gateway: InProcessGateway): Promise<Status> {
  const answer = await getJson(gateway, '/admin/status');
  expect(answer.status, answer.text).toBe(200);
  return JSON.parse(answer.text) as Status;
}

function chat(gateway: InProcessGateway, stream: boolean, signal: AbortSignal) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify({ model: 'status-model', stream, messages: [{ role: 'user', content: PROMPT }] }),
    signal,
  }).catch((error: unknown) => error);
}

describe('access', () => {
  it('has no admin routes without ADMIN_API_KEYS', async () => {
    for (const path of ['/admin/status', '/admin/queues/', '/admin/queues/api/queues']) {
      const answer = await getJson(stack.gateways.plain, path);
      expect(answer.status, path).toBe(404);
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'not_found' } });
    }
  });

  it('refuses a request without a key, or with a wrong one, and asks a browser to log in', async () => {
    const gateway = stack.gateways.readOnly;
    for (const path of ['/admin/status', '/admin/queues/', '/admin/queues/api/queues']) {
      const missing = await getJson(gateway, path, {});
      expect(missing.status, path).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Basic realm="openai-proxy admin"/);
      expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 'missing_api_key' } });
      const wrong = await getJson(gateway, path, { authorization: `Bearer ${CLIENT_KEY}` });
      expect(wrong.status, path).toBe(401);
      expect(JSON.parse(wrong.text)).toMatchObject({ error: { code: 'invalid_api_key' } });
    }
  });

  it('takes the key as a Bearer token or as a browser login’s password', async () => {
    const basic = `Basic ${Buffer.from(`anyone:${ADMIN_KEY}`).toString('base64')}`;
    const wrongBasic = `Basic ${Buffer.from(`${ADMIN_KEY}:nope`).toString('base64')}`;
    expect((await getJson(stack.gateways.readOnly, '/admin/status', { authorization: basic })).status).toBe(
      200,
    );
    expect(
      (await getJson(stack.gateways.readOnly, '/admin/status', { authorization: wrongBasic })).status,
    ).toBe(401);
    const page = await getJson(stack.gateways.readOnly, '/admin/queues/', { authorization: basic });
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.text).toContain('/admin/status');
  });
});

describe('GET /admin/status', () => {
  it('says what the gateway is, which workers are alive, the queue and the limits in force', async () => {
    const { version } = JSON.parse(
      await readFile(new URL('../../apps/gateway/package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const [childPid] = readyWorkerPids(stack.workers.farm);
    const seen = await status(stack.gateways.readOnly);
    expect(seen).toMatchObject({
      mode: 'queue',
      version,
      redis: 'ok',
      upstreams: [
        { label: new URL(upstream.url).host, healthy: true, consecutiveFailures: 0, coolingDownForMs: 0 },
      ],
      workers: {
        alive: 1,
        ids: [expect.stringMatching(new RegExp(`:${childPid}$`))],
        refusingNewJobs: false,
      },
      queue: { waiting: 0, prioritized: 0, active: 0, delayed: 0, failed: 0 },
      inFlight: 0,
      limits: {
        maxInflight: 77,
        rateLimit: { requests: 1000, windowSeconds: 60 },
        queueActions: false,
        showContent: false,
      },
    });
    expect(seen.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(seen)).not.toContain(ADMIN_KEY);
  });

  it('counts the requests in flight', async () => {
    upstream.enqueue({ kind: 'hang' });
    const leaving = new AbortController();
    const streaming = chat(stack.gateways.readOnly, true, leaving.signal);
    await upstream.waitForRequests(1);
    expect((await status(stack.gateways.readOnly)).inFlight).toBe(1);
    leaving.abort();
    await streaming;
  });

  it('in standalone mode: no Redis, no workers, no queue, and no dashboard', async () => {
    const seen = await status(stack.gateways.standalone);
    expect(seen).toMatchObject({ mode: 'standalone', redis: 'not_used', workers: null, queue: null });
    const board = await getJson(stack.gateways.standalone, '/admin/queues/');
    expect(board.status).toBe(404);
    expect(JSON.parse(board.text)).toMatchObject({ error: { code: 'not_found' } });
    expect(board.text).toContain('standalone mode');
  });
});

describe('the queue dashboard’s actions and content', () => {
  it('refuses every change while ADMIN_QUEUE_ACTIONS is off', async () => {
    for (const [method, path] of [
      ['PUT', '/admin/queues/api/queues/completions/pause'],
      ['PUT', '/admin/queues/api/queues/pause'],
      ['DELETE', '/admin/queues/api/queues/completions/obliterate'],
      ['POST', '/admin/queues/api/queues/completions/add'],
    ] as const) {
      const response = await fetch(`${stack.gateways.readOnly.url}${path}`, { method, headers: asAdmin });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(await response.json()).toMatchObject({ error: { code: 'queue_read_only' } });
    }
    const { text } = await getJson(stack.gateways.readOnly, '/admin/queues/api/queues');
    expect(JSON.parse(text)).toMatchObject({ queues: [{ readOnlyMode: true, isPaused: false }] });
  });

  it('pauses and resumes the queue with ADMIN_QUEUE_ACTIONS=true', async () => {
    const gateway = stack.gateways.actions;
    const paused = async () =>
      (
        JSON.parse((await getJson(gateway, '/admin/queues/api/queues')).text) as {
          queues: { isPaused: boolean }[];
        }
      ).queues[0]?.isPaused;
    const put = (what: string) =>
      fetch(`${gateway.url}/admin/queues/api/queues/completions/${what}`, {
        method: 'PUT',
        headers: asAdmin,
      });
    expect((await put('pause')).status).toBe(200);
    expect(await paused()).toBe(true);
    expect((await put('resume')).status).toBe(200);
    expect(await paused()).toBe(false);
  });

  it('shows a job’s request only with ADMIN_SHOW_CONTENT=true, and its client key never', async () => {
    upstream.enqueue({ kind: 'hang' });
    const leaving = new AbortController();
    const asking = chat(stack.gateways.actions, false, leaving.signal);
    await upstream.waitForRequests(2);
    const path = '/admin/queues/api/queues?activeQueue=completions&status=active';
    const shown = await getJson(stack.gateways.actions, path);
    const hidden = await getJson(stack.gateways.readOnly, path);
    leaving.abort();
    await asking;
    const jobOf = (text: string) =>
      (JSON.parse(text) as { queues: { jobs: { data: Record<string, unknown> }[] }[] }).queues[0]?.jobs[0]
        ?.data;
    expect(jobOf(shown.text)).toMatchObject({
      model: 'status-model',
      clientKey: 'hidden (authorization)',
      body: { model: 'status-model', messages: [{ role: 'user', content: PROMPT }] },
    });
    expect(jobOf(hidden.text)).toMatchObject({
      model: 'status-model',
      clientKey: 'hidden (authorization)',
      body: expect.stringMatching(/^hidden \(\d+ bytes; ADMIN_SHOW_CONTENT=true shows the request\)$/),
    });
    expect(hidden.text).not.toContain(PROMPT);
    for (const answer of [shown, hidden]) expect(answer.text).not.toContain(CLIENT_KEY);
  });
});

describe('an upstream cooling down, as the status shows it', () => {
  it('names it unhealthy, with its failures and how long it still rests', async () => {
    upstream.enqueue({ kind: 'status', status: 500 });
    const answer = await chat(stack.gateways.readOnly, true, new AbortController().signal);
    expect(answer).toMatchObject({ status: 500 });
    const [seen] = (await status(stack.gateways.readOnly)).upstreams;
    expect(seen).toMatchObject({ healthy: false, consecutiveFailures: 1 });
    expect(seen?.coolingDownForMs).toBeGreaterThan(0);
    expect(seen?.coolingDownForMs).toBeLessThanOrEqual(60_000);
  });
});

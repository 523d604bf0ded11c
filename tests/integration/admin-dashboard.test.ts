import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MockUpstream } from '@openai-proxy/mock-upstream';
import { queueNames } from '@openai-proxy/shared';
import {
  type AppProcess,
  type InProcessGateway,
  type Stack,
  startStack,
  waitUntil,
} from '@openai-proxy/test-support';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { chromiumPath, launchChromium, recordResponses, type TestBrowser } from './support/browser.js';
import { readyWorkerPids } from './support/worker-pids.js';

// The queue dashboard at /admin/queues, opened by a real browser (Debian's Chromium, driven by
// puppeteer-core) through a real gateway: refused without a key, the queue and its counts after a
// login while jobs wait, a failed job's reason, and neither a key nor a message anywhere in the
// pages or in the JSON they load. .ci/run installs Chromium; the test saves screenshots to
// tests/integration/artifacts/.

// What the functions run inside the page see (this project compiles without the DOM's types).
declare const document: { body: { textContent: string | null } };

const ADMIN_KEY = `admin-${randomUUID()}`;
const CLIENT_KEY = `sk-client-${randomUUID()}`;
const PROMPT = `a private question ${randomUUID()}`;
const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const STALLED = 'job stalled more than allowable limit';
const PREFIX = `{test-${process.pid}-admin-board}`;

let stack: Stack<'board', { admin: { run: 'in-process' } }, 'farm'>;
let upstream: MockUpstream;
let gateway: InProcessGateway;
let worker: AppProcess;
let browser: TestBrowser | undefined;
/** Requests left waiting until the stack stops (their answers do not matter here). */
const waiting: Promise<unknown>[] = [];

function ask(content: string): Promise<unknown> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify({ model: 'board-model', messages: [{ role: 'user', content }] }),
  })
    .then((response) => response.text())
    .catch((error: unknown) => error);
}

async function queueCounts(): Promise<Record<string, number>> {
  const response = await fetch(`${gateway.url}/admin/status`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  const status = (await response.json()) as { queue: Record<string, number> | null };
  return status.queue ?? {};
}

/** Kills the child holding the hanging job and waits for the primary's replacement to be ready. */
async function killJobHolder(): Promise<void> {
  const pids = readyWorkerPids(worker);
  const holder = pids.at(-1);
  if (holder === undefined) throw new Error('no worker child is ready');
  process.kill(holder, 'SIGKILL');
  await waitUntil('a replacement child', worker, async () => readyWorkerPids(worker).length > pids.length);
}

beforeAll(async () => {
  stack = await startStack({
    redis: true,
    upstreams: ['board'],
    env: { QUEUE_PREFIX: PREFIX },
    gateways: {
      // Jobs must keep waiting while the farm is stopped; at the end, the waiting requests are cut short.
      admin: {
        run: 'in-process',
        env: {
          ADMIN_API_KEYS: `another-key,${ADMIN_KEY}`,
          NO_WORKERS_REFUSE_AFTER_MS: '0',
          SHUTDOWN_GRACE_MS: '200',
        },
      },
    },
    workers: {
      farm: {
        env: {
          WORKER_PROCESSES: '1',
          WORKER_CONCURRENCY: '1',
          WORKER_LOCK_DURATION_MS: '1000',
          WORKER_STALLED_INTERVAL_MS: '500',
        },
      },
    },
  });
  upstream = stack.upstreams.board;
  gateway = stack.gateways.admin;
  worker = stack.workers.farm;
  // A job fails the way jobs fail in a farm: its worker dies twice while holding it, and BullMQ
  // gives up on it (maxStalledCount 1).
  upstream.setDefault({ kind: 'hang' });
  waiting.push(ask(PROMPT));
  await upstream.waitForRequests(1);
  await killJobHolder();
  await upstream.waitForRequests(2);
  await killJobHolder();
  await waitUntil('the failed job', worker, async () => (await queueCounts()).failed === 1);
  // With the farm stopped, three more requests wait in the queue.
  await worker.stop();
  for (let i = 0; i < 3; i += 1) waiting.push(ask(`${PROMPT} #${i}`));
  const deadline = Date.now() + 10_000;
  while ((await queueCounts()).waiting !== 3) {
    if (Date.now() > deadline) throw new Error('the three jobs did not reach the queue');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const chromium = chromiumPath();
  if (chromium !== undefined) browser = await launchChromium(chromium);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await Promise.all(waiting);
});

const requireBrowser = (context: TestContext): TestBrowser => {
  if (browser === undefined)
    context.skip('chromium is not installed: the dashboard was not opened (apt-get install chromium)');
  return browser as TestBrowser;
};

/** Every navigation ends in time: a hung one fails its test rather than the test's timeout. */
const NAVIGATION = { timeout: 10_000 };

/** Closes a page, giving up after `ms`: Chromium sometimes never answers a close. */
async function closeWithin(page: Page, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    page.close().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

const text = (page: Page) => page.evaluate(() => document.body.textContent ?? '');
const html = (page: Page) => page.content();

/** Opens the first job's Data tab and waits for what it shows of the job's request. */
async function openDataTab(page: Page): Promise<void> {
  const [dataTab] = await page.$$('xpath/.//button[normalize-space()="Data"]');
  expect(dataTab, 'a Data tab on the job').toBeDefined();
  await dataTab?.click();
  await page.waitForFunction(
    () =>
      (document.body.textContent ?? '').includes('ADMIN_SHOW_CONTENT=true') &&
      (document.body.textContent ?? '').includes('board-model'),
    { timeout: 5_000 },
  );
}

/** Neither key nor any message text, in what the page shows or any response it loaded. */
function expectNoSecrets(where: string, content: string): void {
  expect(content.includes(CLIENT_KEY), `${where} holds the client's key`).toBe(false);
  expect(content.includes(ADMIN_KEY), `${where} holds the admin key`).toBe(false);
  expect(content.includes(PROMPT), `${where} holds a message`).toBe(false);
}

describe('the queue dashboard in a browser', () => {
  it('is refused without a key, and with a wrong one', async (context) => {
    const chromium = requireBrowser(context);
    const page = await chromium.page(gateway.url);
    // Statuses only: Chromium keeps no body of a response it ended the navigation on.
    const statuses: number[] = [];
    page.on('response', (response) => statuses.push(response.status()));
    const refusals = () =>
      gateway.output.filter((line) => /"path":"\/admin\/queues\/","status":"401"/.test(line)).length;
    // Headless Chromium has no login box: answered 401 with a Basic challenge and nothing to
    // log in with, it ends the navigation, as it does when the gateway refuses a wrong password.
    await expect(page.goto(`${gateway.url}/admin/queues/`, NAVIGATION)).rejects.toThrow(
      /ERR_INVALID_AUTH_CREDENTIALS/,
    );
    // The wrong key as a header the browser sends itself: page.authenticate answers a challenge
    // through the DevTools protocol, and with request interception on, a refused answer to it
    // sometimes leaves the navigation hanging instead of ending it.
    const wrongKey = Buffer.from('operator:not-the-key').toString('base64');
    await page.setExtraHTTPHeaders({ authorization: `Basic ${wrongKey}` });
    const withWrongKey = await page.goto(`${gateway.url}/admin/queues/`, NAVIGATION).then(
      (response) => response?.status(),
      (error: Error) => error.message,
    );
    // Either Chromium ends the navigation on the challenge or it shows the 401 page.
    expect(String(withWrongKey)).toMatch(/ERR_INVALID_AUTH_CREDENTIALS|^401$/);
    // Once without a key, then once with the wrong one.
    expect(refusals()).toBeGreaterThanOrEqual(2);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(statuses.every((status) => status === 401)).toBe(true);
    expect(page.url()).not.toContain('/admin/queues');
    // Closed from a blank page: closed on Chromium's own error page, it sometimes never answers.
    await page.goto('about:blank', NAVIGATION);
    await closeWithin(page, 5_000);
  }, 60_000);

  it('after a login, shows the queue with its counts, a failed job’s reason, and no key or message', async (context) => {
    const chromium = requireBrowser(context);
    const page = await chromium.page(gateway.url);
    const responses = recordResponses(page);
    await page.authenticate({ username: 'operator', password: ADMIN_KEY });

    const entry = await page.goto(`${gateway.url}/admin/queues/`, { waitUntil: 'networkidle0' });
    expect(entry?.status()).toBe(200);
    await page.waitForFunction(
      () =>
        /waiting\s*3/i.test(document.body.textContent ?? '') &&
        /failed\s*1/i.test(document.body.textContent ?? ''),
      { timeout: 15_000 },
    );
    expect(await text(page)).toContain('completions');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('admin-queues-overview.png', ARTIFACTS).pathname });
    expectNoSecrets('the overview page', await html(page));

    await page.goto(`${gateway.url}/admin/queues/queue/completions?status=failed`, {
      waitUntil: 'networkidle0',
    });
    await page.waitForFunction(
      (reason) => (document.body.textContent ?? '').includes(reason),
      { timeout: 15_000 },
      STALLED,
    );
    await page.screenshot({
      path: new URL('admin-queues-failed.png', ARTIFACTS).pathname,
      // The header, the counts and the failure (the README shows this one, docs/admin-queues.png).
      clip: { x: 0, y: 0, width: 1280, height: 400 },
    });
    expectNoSecrets('the failed job', await html(page));
    // Its data tab: the model, the body hidden, and no client key left in it.
    await openDataTab(page);
    expect(await text(page)).toMatch(/clientKey\W+none\W/);
    expectNoSecrets('the failed job’s data', await html(page));

    await page.goto(`${gateway.url}/admin/queues/queue/completions?status=waiting`, {
      waitUntil: 'networkidle0',
    });
    // A waiting job still holds the client's key (its worker needs it): shown as hidden.
    await openDataTab(page);
    expect(await text(page)).toContain('hidden (authorization)');
    expectNoSecrets('the waiting jobs', await html(page));
    await page.goto('about:blank');
    await page.close();

    // What the pages loaded: the entry page (it links to /admin/status), scripts, and the JSON API
    // with the jobs in it.
    const api = responses.filter((response) => response.url.includes('/admin/queues/api/'));
    expect(
      api.some((response) => response.body.includes(STALLED)),
      'the API sent the failed reason',
    ).toBe(true);
    expect(
      api.some((response) => response.body.includes('board-model')),
      'the API sent the jobs',
    ).toBe(true);
    expect(responses.some((response) => response.body.includes('/admin/status'))).toBe(true);
    for (const response of responses) expectNoSecrets(response.url, response.body);
  });
});

/** Every request a page makes from now on to a host other than `origin` (data: and blob: are no requests). */
function requestsElsewhere(page: Page, origin: string): string[] {
  const elsewhere: string[] = [];
  page.on('request', (request: HTTPRequest) => {
    const url = request.url();
    if (!/^(data|blob):/.test(url) && new URL(url).origin !== origin) elsewhere.push(url);
  });
  return elsewhere;
}

describe('the queue dashboard without internet access', () => {
  it('loads every page, script, style and font from the gateway, and asks no other host for anything', async (context) => {
    const chromium = requireBrowser(context);
    const page = await chromium.page(gateway.url);
    const elsewhere = requestsElsewhere(page, new URL(gateway.url).origin);
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/Refused to|Failed to load/.test(message.text())) refused.push(message.text());
    });
    const responses = recordResponses(page);
    await page.authenticate({ username: 'operator', password: ADMIN_KEY });
    const entry = await page.goto(`${gateway.url}/admin/queues/`, { waitUntil: 'networkidle0' });
    expect(entry?.status()).toBe(200);
    await page.waitForFunction(() => /waiting\s*3/i.test(document.body.textContent ?? ''), {
      timeout: 15_000,
    });
    await page.goto(`${gateway.url}/admin/queues/queue/completions?status=failed`, {
      waitUntil: 'networkidle0',
    });
    await page.waitForFunction(
      (reason) => (document.body.textContent ?? '').includes(reason),
      { timeout: 15_000 },
      STALLED,
    );
    const html = responses.find((response) => response.url === `${gateway.url}/admin/queues/`)?.body ?? '';
    expect(html).toContain('<link href="static/css/');
    expect(html).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
    expect(elsewhere).toEqual([]);
    expect(refused).toEqual([]);
    // The browser is told so too: another host would be refused, whatever the page asked for.
    expect(entry?.headers()['content-security-policy']).toContain("default-src 'self'");
    // Scripts and styles came, from the gateway.
    expect(responses.filter((response) => /\/static\/(js|css)\//.test(response.url)).length).toBeGreaterThan(
      0,
    );
    await page.goto('about:blank', NAVIGATION);
    await closeWithin(page, 5_000);
  }, 60_000);
});

describe('a failed job’s error, as the dashboard shows it', () => {
  /** Where this checkout lives: in a stack trace, as it would be /app/… in a container. */
  const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const MOUNTED = '/app/mounted-secrets';
  const REASON = `ENOENT: no such file or directory, open '${MOUNTED}/upstreams.yaml'`;
  const FAILED_PREFIX = `{test-${process.pid}-admin-failure}`;
  let failureStack: Stack<'unused', { admin: { run: 'in-process' } }>;
  let failedGateway: InProcessGateway;

  beforeAll(async () => {
    failureStack = await startStack({
      redis: true,
      upstreams: ['unused'],
      env: { QUEUE_PREFIX: FAILED_PREFIX },
      gateways: { admin: { run: 'in-process', env: { ADMIN_API_KEYS: ADMIN_KEY } } },
    });
    failedGateway = failureStack.gateways.admin;
    // A job that fails with a real error: its stack names this file by its absolute path.
    const names = queueNames(FAILED_PREFIX);
    const connection = new Redis(failureStack.redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(names.queue, { connection, prefix: names.prefix });
    const worker = new Worker(
      names.queue,
      async () => {
        throw new Error(REASON);
      },
      { connection, prefix: names.prefix },
    );
    try {
      const failed = new Promise<void>((resolve) => worker.once('failed', () => resolve()));
      await queue.add('completion', {});
      await failed;
    } finally {
      await worker.close();
      await queue.close();
      connection.disconnect();
    }
  });

  afterAll(async () => {
    await failureStack?.stop();
  });

  /** No directory of this machine, nor of the one in the message. */
  function expectNoDirectories(where: string, content: string): void {
    expect(content.includes(REPO_ROOT), `${where} names ${REPO_ROOT}`).toBe(false);
    expect(content.includes(MOUNTED), `${where} names ${MOUNTED}`).toBe(false);
  }

  it('in the JSON API: the reason and the stack name files, not directories', async () => {
    const response = await fetch(
      `${failedGateway.url}/admin/queues/api/queues?activeQueue=completions&status=failed`,
      {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      },
    );
    const body = await response.text();
    const { queues } = JSON.parse(body) as {
      queues: { jobs: { failedReason: string; stacktrace: string[] }[] }[];
    };
    const job = queues[0]?.jobs[0];
    expect(job?.failedReason).toBe("ENOENT: no such file or directory, open 'upstreams.yaml'");
    expect(job?.stacktrace.join('\n')).toContain('admin-dashboard.test.ts:');
    expectNoDirectories('the API', body);
  });

  it('in its Error tab: the reason and the frames, without a path', async (context) => {
    const chromium = requireBrowser(context);
    const page = await chromium.page(failedGateway.url);
    const responses = recordResponses(page);
    await page.authenticate({ username: 'operator', password: ADMIN_KEY });
    await page.goto(`${failedGateway.url}/admin/queues/queue/completions?status=failed`, {
      waitUntil: 'networkidle0',
    });
    const [errorTab] = await page.$$('xpath/.//button[normalize-space()="Error"]');
    expect(errorTab, 'an Error tab on the failed job').toBeDefined();
    await errorTab?.click();
    await page.waitForFunction(() => (document.body.textContent ?? '').includes('admin-dashboard.test.ts:'), {
      timeout: 5_000,
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('admin-queues-error-tab.png', ARTIFACTS).pathname });
    const shown = await text(page);
    expect(shown).toContain("open 'upstreams.yaml'");
    expectNoDirectories('the Error tab', await html(page));
    for (const response of responses) expectNoDirectories(response.url, response.body);
    await page.goto('about:blank', NAVIGATION);
    await closeWithin(page, 5_000);
  }, 60_000);
});

describe('the queue dashboard’s JSON API, as a script reads it', () => {
  it('answers a Bearer admin key, with the jobs’ data free of keys and messages', async () => {
    const response = await fetch(
      `${gateway.url}/admin/queues/api/queues?activeQueue=completions&status=failed`,
      {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.text();
    const { queues } = JSON.parse(body) as {
      queues: {
        name: string;
        counts: Record<string, number>;
        readOnlyMode: boolean;
        jobs: { failedReason: string }[];
      }[];
    };
    expect(queues[0]).toMatchObject({
      name: 'completions',
      readOnlyMode: true,
      counts: { waiting: 3, failed: 1 },
    });
    expect(queues[0]?.jobs[0]?.failedReason).toBe(STALLED);
    expectNoSecrets('the API', body);
  });

  it('keeps the failed job for the dashboard without the client’s key, in Redis itself', async () => {
    const redis = new Redis(stack.redis.url);
    try {
      const failed = await redis.zrange(`${PREFIX}:completions:failed`, '0', '-1');
      expect(failed).toHaveLength(1);
      const data = await redis.hget(`${PREFIX}:completions:${failed[0]}`, 'data');
      // Kept: the request, to be shown with ADMIN_SHOW_CONTENT; gone: the key.
      expect(data).toContain(PROMPT);
      expect(data).not.toContain(CLIENT_KEY);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a script without the key', async () => {
    const response = await fetch(`${gateway.url}/admin/queues/api/queues`, {
      headers: { authorization: `Bearer ${CLIENT_KEY}` },
    });
    expect(response.status).toBe(401);
    expectNoSecrets('the refusal', await response.text());
  });
});

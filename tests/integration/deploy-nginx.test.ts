import { request } from 'node:http';
import { gatewaySchema } from '@openai-proxy/gateway';
import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, freePort, startApp } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { commandOnPath } from './support/deploy/command-on-path.js';
import { startTestNginx, type TestNginx } from './support/deploy/nginx.js';
import { readRepoFile } from './support/deploy/repo.js';

// Issue 8: deploy/nginx/openai-proxy.conf. Read for the directives streaming needs, then run by a
// real nginx (`nginx -t`, then requests through it) in front of a real gateway when nginx is
// installed. .ci/run installs it, so CI always runs the second part.

const EXAMPLE = 'deploy/nginx/openai-proxy.conf';
const site = readRepoFile(EXAMPLE);
const HOSTILE_HTTP_SETTINGS = 'gzip on; gzip_min_length 1; gzip_types text/event-stream application/json;';
const defaults = gatewaySchema.parse({ UPSTREAM_API_URL: 'http://u.example/v1/chat/completions' });

/** The single value of a directive in the example, e.g. `proxy_read_timeout` → `3600s`. */
function directive(name: string): string | undefined {
  const values = [...site.matchAll(new RegExp(`^\\s*${name}\\s+([^;]+);`, 'gm'))].map((m) => m[1]?.trim());
  expect(values.length, `${name} appears once`).toBeLessThanOrEqual(1);
  return values[0];
}

/** nginx time: `3600s`, `60m`, `1h`, bare seconds. */
function nginxTimeMs(text: string | undefined): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text ?? '');
  if (match === null) return Number.NaN;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

describe('the nginx example, read', () => {
  it('passes streams through unbuffered, over HTTP/1.1 with keep-alive to the gateway', () => {
    expect(directive('proxy_buffering')).toBe('off');
    expect(directive('proxy_cache')).toBe('off');
    expect(directive('gzip')).toBe('off');
    expect(directive('proxy_request_buffering')).toBe('off');
    expect(directive('proxy_http_version')).toBe('1.1');
    expect(directive('proxy_set_header Connection')).toBe('""');
    expect(directive('keepalive')).toMatch(/^\d+$/);
  });

  it('waits longer than the proxy itself does: first byte, idle stream, queued answer', () => {
    const longest = Math.max(
      defaults.REQUEST_TIMEOUT_MS,
      defaults.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
      defaults.UPSTREAM_IDLE_TIMEOUT_MS,
    );
    for (const name of ['proxy_read_timeout', 'proxy_send_timeout', 'send_timeout']) {
      expect(nginxTimeMs(directive(name)), name).toBeGreaterThan(longest);
    }
  });

  it('points at the gateway’s default port', () => {
    const servers = [...site.matchAll(/^\s*server\s+([^\s;{]+);/gm)].map((m) => m[1]);
    expect(servers).toEqual([`127.0.0.1:${defaults.PORT}`]);
  });
});

describe('the nginx example, run by nginx in front of a gateway', () => {
  const nginxBinary = commandOnPath('nginx');
  let upstream: MockUpstream;
  let gateway: AppProcess;
  let nginx: TestNginx;

  /** Without nginx this part cannot run; CI installs it, so there its absence is a failure. */
  const requireNginx = (context: TestContext) => {
    if (nginxBinary !== undefined) return;
    if (process.env.CI) throw new Error('nginx is not installed, but .ci/run installs it');
    context.skip(`nginx is not installed: ${EXAMPLE} was only read, not run (apt-get install nginx)`);
  };

  beforeAll(async () => {
    if (nginxBinary === undefined) return;
    upstream = await startMockUpstream({ name: 'behind-nginx' });
    gateway = await startApp('gateway', { UPSTREAM_API_URL: upstream.chatUrl });
    const port = await freePort();
    // The example as it is, with only its two addresses moved to this test's ports.
    const listen = `listen 127.0.0.1:${port};`;
    const server = `server 127.0.0.1:${gateway.port};`;
    const adapted = site
      .replace(/^(\s*)listen 80;/m, `$1${listen}`)
      .replace(/^(\s*)server 127\.0\.0\.1:3000;/m, `$1${server}`);
    expect(adapted).toContain(listen);
    expect(adapted).toContain(server);
    // A server-wide setting that holds SSE back (gzip waits for more bytes to compress): the
    // example must keep events flowing whatever the surrounding nginx.conf says.
    nginx = await startTestNginx(nginxBinary, adapted, port, HOSTILE_HTTP_SETTINGS);
  });

  afterAll(async () => {
    await nginx?.stop();
    await gateway?.stop();
    await upstream?.close();
  });

  it('passes `nginx -t`', (context) => {
    requireNginx(context);
    expect(nginx.testOutput).toMatch(/syntax is ok/);
    expect(nginx.testOutput).toMatch(/test is successful/);
  });

  it('delivers each SSE event while the upstream is still generating, chunked, and passes a client abort on', async (context) => {
    requireNginx(context);
    // The first event now, the next ten minutes later: only an unbuffered path delivers the first
    // one before the generation ends.
    upstream.enqueue({ kind: 'echo', chunkDelayMs: 600_000 });
    const { aborted, completed } = upstream.stats;
    const { headers, firstChunk, abort } = await new Promise<{
      headers: Record<string, string | string[] | undefined>;
      firstChunk: string;
      abort: () => void;
    }>((resolve, reject) => {
      const req = request(`${nginx.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer sk-nginx',
          'accept-encoding': 'gzip',
        },
      });
      req.on('response', (res) => {
        res.setEncoding('utf8');
        res.once('data', (chunk: string) =>
          resolve({ headers: res.headers, firstChunk: chunk, abort: () => req.destroy() }),
        );
        res.on('error', () => undefined);
      });
      req.on('error', reject);
      req.end(
        JSON.stringify({
          model: 'm',
          stream: true,
          messages: [{ role: 'user', content: 'slow words here' }],
        }),
      );
    });
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    expect(headers['transfer-encoding']).toBe('chunked');
    expect(headers['content-length']).toBeUndefined();
    expect(headers['content-encoding']).toBeUndefined();
    expect(firstChunk).toMatch(/^data: \{.*"chat\.completion\.chunk"/);
    // The upstream has not finished this answer: the event arrived while it was still generating.
    expect(upstream.stats.completed).toBe(completed);

    abort();
    await upstream.waitForAborted(aborted + 1);
  });

  it('carries a whole stream and a folded non-stream answer (official SDK as client)', async (context) => {
    requireNginx(context);
    const client = new OpenAI({ apiKey: 'sk-nginx', baseURL: `${nginx.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'm',
      stream: true,
      messages: [{ role: 'user', content: 'through nginx' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: through nginx');

    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'folded through nginx' }],
    });
    expect(completion.choices[0]?.message.content).toBe('echo: folded through nginx');
  });
});

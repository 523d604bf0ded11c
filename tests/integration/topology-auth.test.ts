import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import {
  type AppProcess,
  makeTlsCertificate,
  runAppToExit,
  startApp,
  startRedis,
  type TestRedis,
  type TlsCertificate,
} from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, eventually, postJson } from './support/http.js';

// REDIS_URL with TLS and an ACL user: a redis-server that serves only TLS (this Debian build of
// redis-server has it) and only to its user `proxy` (the default user is off). A gateway and a
// worker farm as processes, trusting the server's certificate through NODE_EXTRA_CA_CERTS, as an
// operator would give them a private CA. A wrong password is refused by Redis, so the proxy says
// not ready. And a Redis configured twice, or half, stops the process with the variables named.

const PREFIX = `{auth-${process.pid}}`;
const ACL = { user: 'proxy', password: 'pr0xy:s3cret/with@signs' };

let certificate: TlsCertificate;
let redis: TestRedis;
let upstream: MockUpstream;
const apps: AppProcess[] = [];

beforeAll(async () => {
  certificate = await makeTlsCertificate();
  [redis, upstream] = await Promise.all([
    startRedis({ acl: ACL, tls: certificate }),
    startMockUpstream({ name: 'auth' }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  await Promise.all([upstream?.close(), redis?.stop()]);
});

const env = (redisUrl: string) => ({
  UPSTREAM_API_URL: upstream.chatUrl,
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: PREFIX,
  STATS_INTERVAL_SECONDS: '0',
  NODE_EXTRA_CA_CERTS: certificate.certFile,
});

describe('REDIS_URL with rediss:// and an ACL user', () => {
  it('carries folded requests from the gateway to the workers', async () => {
    expect(redis.url).toMatch(/^rediss:\/\/proxy:.+@127\.0\.0\.1:\d+$/);
    const [gateway, worker] = await Promise.all([
      startApp('gateway', env(redis.url)),
      startApp('worker', { ...env(redis.url), WORKER_PROCESSES: '1' }),
    ]);
    apps.push(gateway, worker);
    const answer = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('over TLS'));
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toMatchObject({ choices: [{ message: { content: 'echo: over TLS' } }] });
    expect((await fetch(`${gateway.url}/ready`)).status).toBe(200);
  });

  it('is not ready with a wrong password, and refuses folded requests quickly', async () => {
    const wrong = redis.url.replace(encodeURIComponent(ACL.password), 'not-the-password');
    expect(wrong).not.toBe(redis.url);
    const gateway = await startApp('gateway', env(wrong));
    apps.push(gateway);
    await eventually(async () => (await fetch(`${gateway.url}/ready`)).status === 503);
    const refused = await postJson(`${gateway.url}/v1/chat/completions`, chatBody('no entry'));
    expect(refused.status).toBe(503);
    expect(refused.json.error?.code).toBe('queue_unavailable');
  });
});

describe('a Redis configured more than once, or in part', () => {
  const lines = (output: string) => output.split('\n').filter((line) => line.trim() !== '');

  it('stops the gateway with the conflicting variables named', async () => {
    const { code, output } = await runAppToExit('gateway', {
      UPSTREAM_API_URL: 'http://127.0.0.1:9/v1/chat/completions',
      REDIS_URL: 'redis://127.0.0.1:6390',
      REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001',
    });
    expect(code).toBe(1);
    expect(lines(output)).toEqual([
      'openai-proxy gateway: Invalid configuration:',
      expect.stringMatching(/^ {2}REDIS_URL, REDIS_CLUSTER_NODES: configure exactly one Redis/),
    ]);
  });

  it('stops the worker when Sentinel lacks its master name', async () => {
    const { code, output } = await runAppToExit('worker', {
      UPSTREAM_API_URL: 'http://127.0.0.1:9/v1/chat/completions',
      REDIS_SENTINELS: '127.0.0.1:26379',
    });
    expect(code).toBe(1);
    expect(lines(output)).toEqual([
      'openai-proxy worker: Invalid configuration:',
      expect.stringMatching(/^ {2}REDIS_SENTINEL_MASTER: is required with REDIS_SENTINELS/),
    ]);
  });
});

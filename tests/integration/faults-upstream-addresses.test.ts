import { randomUUID } from 'node:crypto';
import { freePort, type InProcessGateway, type Stack, startStack } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, type JsonAnswer, postJson } from './support/http.js';

// An upstream that cannot be reached: the client learns the failure's kind (connection refused,
// ECONNREFUSED), never the upstream's address; the address is in the log, where operators look.
// The only upstream is a closed port, in every mode and on both ways through the proxy.

let stack: Stack<
  never,
  { queued: { run: 'in-process' }; standalone: { run: 'in-process'; standalone: true } },
  'farm'
>;
let port: number;
let address: string;

beforeAll(async () => {
  port = await freePort();
  address = `127.0.0.1:${port}`;
  stack = await startStack({
    redis: true,
    env: {
      QUEUE_PREFIX: `{test-${process.pid}-upstream-addresses}`,
      UPSTREAM_API_URL: `http://${address}/v1/chat/completions`,
    },
    gateways: { queued: { run: 'in-process' }, standalone: { run: 'in-process', standalone: true } },
    workers: { farm: { env: { WORKER_PROCESSES: '1' } } },
  });
});
afterAll(() => stack?.stop());

const chat = (gateway: InProcessGateway, stream: boolean, requestId: string) =>
  postJson(`${gateway.url}/v1/chat/completions`, chatBody('anyone there?', { stream }), {
    'x-request-id': requestId,
  });

function expectKindWithoutAddress(answer: JsonAnswer): void {
  expect(answer.status).toBe(502);
  expect(answer.json.error?.code).toBe('upstream_unavailable');
  expect(answer.json.error?.message).toBe(
    'The upstream connection failed (connection refused, ECONNREFUSED).',
  );
  expect(answer.text).not.toContain('127.0.0.1');
  expect(answer.text).not.toContain(String(port));
}

/** The line of `requestId` whose message is `msg`, once it is printed. */
const logLine = (
  output: { waitForOutput(matcher: RegExp): Promise<string> },
  requestId: string,
  msg: string,
) => output.waitForOutput(new RegExp(`"requestId":"${requestId}".*"msg":"${msg}"`));

describe('a refused connection', () => {
  it.each([
    ['standalone, non-stream', 'standalone', false, 'upstream failed'],
    ['standalone, stream', 'standalone', true, 'upstream failed'],
    ['queue mode, stream (relayed by the gateway)', 'queued', true, 'upstream failed'],
  ] as const)(
    '%s: the answer names the kind, the gateway log names the address',
    async (_label, name, stream, msg) => {
      const gateway = stack.gateways[name];
      const requestId = `refused-${randomUUID()}`;
      expectKindWithoutAddress(await chat(gateway, stream, requestId));
      expect(await logLine(gateway, requestId, msg)).toContain(address);
    },
  );

  it('queue mode, non-stream: the answer names the kind, the worker job line names the address', async () => {
    const requestId = `refused-${randomUUID()}`;
    expectKindWithoutAddress(await chat(stack.gateways.queued, false, requestId));
    const jobLine = await logLine(stack.workers.farm, requestId, 'job');
    expect(jobLine).toContain(`"failure":"connect ECONNREFUSED ${address}"`);
  });
});

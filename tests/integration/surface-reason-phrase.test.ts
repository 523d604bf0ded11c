import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, startInProcessGateway } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody } from './support/http.js';

// Node has no reason phrase for 529 (Anthropic's "overloaded") and writes `529 unknown`; the
// gateway's status line says `529 Overloaded`, Anthropic's word, however the 529 comes about:
// relayed from a streaming call, or answered from a folded one. In-process gateway.

const OVERLOADED = JSON.stringify({
  type: 'error',
  error: { type: 'overloaded_error', message: 'Overloaded' },
});

let upstream: MockUpstream;
let gateway: InProcessGateway;

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'overloaded' });
  // One try: the 529 is the answer, not a reason to try elsewhere.
  gateway = await startInProcessGateway({ UPSTREAM_API_URL: upstream.chatUrl, UPSTREAM_MAX_TRIES: '1' });
});

afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const messagesBody = (stream: boolean) => ({
  model: 'm',
  max_tokens: 8,
  stream,
  messages: [{ role: 'user', content: 'busy?' }],
});

describe('a 529', () => {
  it.each([
    ['relayed from a streaming call', '/v1/messages', messagesBody(true)],
    ['answered from a folded call', '/v1/messages', messagesBody(false)],
    ['answered on an OpenAI route', '/v1/chat/completions', chatBody('busy?')],
  ])('%s has the reason phrase Overloaded', async (_case, path, body) => {
    const before = upstream.stats.requests;
    upstream.enqueue({ kind: 'status', status: 529, body: OVERLOADED });
    const response = await post(path, body);
    await response.text();
    expect([response.status, response.statusText]).toEqual([529, 'Overloaded']);
    expect(upstream.stats.requests - before).toBe(1);
  });
});

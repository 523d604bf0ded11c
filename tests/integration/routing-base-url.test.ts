import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, startInProcessGateway } from '@openai-proxy/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postJson } from './support/http.js';
import { upstreamsFileDir } from './support/upstreams-file.js';

// An upstream may be written as its base URL, `http://host/v1` (what SDKs, LiteLLM and one-api
// take), as well as its chat-completions URL: chat goes to `/v1/chat/completions` below it, and
// every other endpoint beside it. Counted on the mock: each request lands on its own path, none
// on the bare `/v1` (where chat used to go, for the upstream's 404). In-process gateways.

let upstream: MockUpstream;
let bare: InProcessGateway;
let filed: InProcessGateway;
const files = upstreamsFileDir();

beforeAll(async () => {
  upstream = await startMockUpstream({ name: 'base-url' });
  bare = await startInProcessGateway({ UPSTREAM_API_URL: `${upstream.url}/v1` });
  const file = files.write(
    'base.yaml',
    `upstreams:\n  - url: ${upstream.url}/v1/\n    models: [mock-model]\n`,
  );
  filed = await startInProcessGateway({ UPSTREAMS_FILE: file });
});

afterAll(async () => {
  await Promise.all([bare?.stop(), filed?.stop()]);
  await upstream?.close();
  files.remove();
});

/** Upstream requests by path since `before`. */
const callsSince = (before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(upstream.stats.byPath)
      .map(([path, count]) => [path, count - (before[path] ?? 0)] as const)
      .filter(([, count]) => count > 0),
  );

describe('UPSTREAM_API_URL as a base URL ending in /v1', () => {
  it('sends chat (folded and streamed), Responses, Messages and the models list to their own paths', async () => {
    const before = { ...upstream.stats.byPath };
    const folded = await postJson(`${bare.url}/v1/chat/completions`, chatBody('folded'));
    expect(folded.status).toBe(200);
    expect(folded.json).toMatchObject({ choices: [{ message: { content: 'echo: folded' } }] });
    const streamed = await postJson(
      `${bare.url}/v1/chat/completions`,
      chatBody('streamed', { stream: true }),
    );
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('data: [DONE]');
    const responses = await postJson(`${bare.url}/v1/responses`, { model: 'mock-model', input: 'r' });
    expect(responses.status).toBe(200);
    expect(responses.json.object).toBe('response');
    const messages = await postJson(`${bare.url}/v1/messages`, {
      model: 'mock-model',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'm' }],
    });
    expect(messages.status).toBe(200);
    expect(messages.json.type).toBe('message');
    const models = await fetch(`${bare.url}/v1/models`);
    expect(models.status).toBe(200);
    expect(callsSince(before)).toEqual({
      '/v1/chat/completions': 2,
      '/v1/responses': 1,
      '/v1/messages': 1,
      '/v1/models': 1,
    });
  });
});

describe('an UPSTREAMS_FILE url written as a base URL (final slash included)', () => {
  it('reaches chat at /v1/chat/completions', async () => {
    const before = { ...upstream.stats.byPath };
    const answer = await postJson(`${filed.url}/v1/chat/completions`, chatBody('from the file'));
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ choices: [{ message: { content: 'echo: from the file' } }] });
    expect(callsSince(before)).toEqual({ '/v1/chat/completions': 1 });
  });
});

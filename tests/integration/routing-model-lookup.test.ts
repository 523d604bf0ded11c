import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type InProcessGateway, startInProcessGateway } from '@openai-proxy/test-support';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamsFileDir } from './support/upstreams-file.js';

// `GET /v1/models/{id}` follows the routing file as `GET /v1/models` and completions do: a model
// the file names (listed, or an alias) is answered from it; one it serves only by a glob is asked
// of the upstreams serving it, never another; one it does not serve is 404 `model_not_found` in
// OpenAI's shape, no upstream asked. Counted on the mocks. In-process gateways.

const files = upstreamsFileDir();
let a: MockUpstream;
let b: MockUpstream;
let listed: InProcessGateway;
let globbed: InProcessGateway;

beforeAll(async () => {
  a = await startMockUpstream({ name: 'lookup-a' });
  b = await startMockUpstream({ name: 'lookup-b' });
  const named = files.write(
    'named.yaml',
    `upstreams:
  - url: ${a.chatUrl}
    models: [gpt-4o, gpt-4o-mini]
  - url: ${b.chatUrl}
    models: [local, org/tuned]
    aliases: { llama-3: local }
`,
  );
  listed = await startInProcessGateway({ UPSTREAMS_FILE: named });
  const glob = files.write(
    'glob.yaml',
    `upstreams:
  - url: ${a.chatUrl}
    models: ["gpt-*"]
  - url: ${b.chatUrl}
    models: [local]
    aliases: { llama-3: local }
`,
  );
  globbed = await startInProcessGateway({ UPSTREAMS_FILE: glob });
});

afterAll(async () => {
  await Promise.all([listed?.stop(), globbed?.stop()]);
  await Promise.all([a?.close(), b?.close()]);
  files.remove();
});

const upstreamCalls = () => a.stats.requests + b.stats.requests;

describe('a model the file names', () => {
  it('is answered from the file, aliases included, with no upstream call (the SDK reads it)', async () => {
    const before = upstreamCalls();
    const client = new OpenAI({ apiKey: 'k', baseURL: `${listed.url}/v1`, maxRetries: 0 });
    for (const id of ['gpt-4o', 'local', 'llama-3', 'org/tuned'])
      expect(await client.models.retrieve(id)).toMatchObject({ id, object: 'model' });
    const viaGlobFile = await fetch(`${globbed.url}/v1/models/llama-3`);
    expect(viaGlobFile.status).toBe(200);
    expect(await viaGlobFile.json()).toMatchObject({ id: 'llama-3', object: 'model' });
    expect(upstreamCalls()).toBe(before);
  });
});

describe('a model the file does not serve', () => {
  it('is 404 model_not_found in OpenAI’s shape, with no upstream call', async () => {
    const before = upstreamCalls();
    for (const gateway of [listed, globbed]) {
      const response = await fetch(`${gateway.url}/v1/models/claude-3`);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        error: {
          message: expect.stringContaining('claude-3'),
          type: 'invalid_request_error',
          param: null,
          code: 'model_not_found',
        },
      });
    }
    expect(upstreamCalls()).toBe(before);
  });
});

describe('a model served only by a glob', () => {
  it('is asked of the upstream serving it, every time', async () => {
    const beforeA = a.stats.byPath['/v1/models/gpt-4.1'] ?? 0;
    const beforeB = b.stats.requests;
    for (let i = 0; i < 6; i++) await (await fetch(`${globbed.url}/v1/models/gpt-4.1`)).text();
    expect((a.stats.byPath['/v1/models/gpt-4.1'] ?? 0) - beforeA).toBe(6);
    expect(b.stats.requests).toBe(beforeB);
  });
});

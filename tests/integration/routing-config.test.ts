import { startMockUpstream } from '@openai-proxy/mock-upstream';
import { readUpstreamsFile } from '@openai-proxy/shared';
import { runAppToExit, startInProcessGateway } from '@openai-proxy/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { readRepoFile } from './support/deploy/repo.js';
import { upstreamsFileDir } from './support/upstreams-file.js';

// UPSTREAMS_FILE is checked before anything starts, by the gateway and the worker alike: each
// problem is one line naming the file, the entry and the field. A JSON file is read like YAML.
// `GET /v1/models` is answered from the file when every upstream lists its models.

const files = upstreamsFileDir();
afterAll(() => files.remove());

const URL_A = 'http://a.example/v1/chat/completions';
const URL_B = 'http://b.example/v1/chat/completions';

async function refusal(app: 'gateway' | 'worker', env: Record<string, string>): Promise<string> {
  const { code, output } = await runAppToExit(app, { REDIS_URL: 'redis://127.0.0.1:1', ...env });
  expect(code).toBe(1);
  return output;
}

describe('start-up checks of UPSTREAMS_FILE', () => {
  it('refuses UPSTREAM_API_URL and UPSTREAMS_FILE together, naming both', async () => {
    const file = files.write('fine.yaml', `upstreams:\n  - url: ${URL_A}\n`);
    for (const app of ['gateway', 'worker'] as const) {
      const output = await refusal(app, { UPSTREAM_API_URL: URL_B, UPSTREAMS_FILE: file });
      expect(output).toContain('UPSTREAM_API_URL, UPSTREAMS_FILE: both are set');
    }
  });

  it('refuses UPSTREAM_API_KEY with a file: keys belong to their upstream there', async () => {
    const file = files.write('keys.yaml', `upstreams:\n  - url: ${URL_A}\n`);
    const output = await refusal('gateway', { UPSTREAM_API_KEY: 'k', UPSTREAMS_FILE: file });
    expect(output).toContain('UPSTREAM_API_KEY, UPSTREAMS_FILE: both are set');
  });

  it('names the file, the entry and the field of each problem', async () => {
    const file = files.write(
      'bad-fields.yaml',
      `upstreams:
  - url: ${URL_A}
    models: ["gpt-*"]
  - url: ${URL_B}
    weight: 0
    modles: [oops]
  - key: no-url
  - url: not a url
    include_usage: sometimes
    aliases: { short: "" }
`,
    );
    for (const app of ['gateway', 'worker'] as const) {
      const output = await refusal(app, { UPSTREAMS_FILE: file });
      const lines = output.split('\n').filter((line) => line.includes('UPSTREAMS_FILE'));
      const where = `UPSTREAMS_FILE (${file}): `;
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.stringContaining(`${where}upstreams[1] (${URL_B}), field "weight": must be greater than 0`),
          expect.stringContaining(`${where}upstreams[1] (${URL_B}), field "modles": is not a field`),
          expect.stringContaining(`${where}upstreams[2], field "url": is required`),
          expect.stringContaining(
            `${where}upstreams[3] (not a url), field "url": "not a url" is not an http(s) URL`,
          ),
          expect.stringContaining(
            `${where}upstreams[3] (not a url), field "include_usage": must be true or false`,
          ),
          expect.stringContaining(
            `${where}upstreams[3] (not a url), field "aliases.short": must not be empty`,
          ),
        ]),
      );
      expect(lines.join('\n')).not.toContain('upstreams[0]');
    }
  });

  it('names a key variable that is not set', async () => {
    const file = files.write(
      'env-key.yaml',
      `upstreams:\n  - url: ${URL_A}\n    key: \${NOT_SET_ANYWHERE}\n`,
    );
    const output = await refusal('worker', { UPSTREAMS_FILE: file });
    expect(output).toContain(
      `UPSTREAMS_FILE (${file}): upstreams[0] (${URL_A}), field "key": names the environment variable NOT_SET_ANYWHERE, which is not set`,
    );
  });

  it('names a file it cannot read, one that is not YAML, and one without `upstreams:`', async () => {
    const missing = `${files.write('placeholder', '')}-missing.yaml`;
    expect(await refusal('gateway', { UPSTREAMS_FILE: missing })).toContain(
      `UPSTREAMS_FILE (${missing}): cannot be read (ENOENT)`,
    );
    const broken = files.write('broken.yaml', 'upstreams:\n  - url: [unclosed\n');
    expect(await refusal('gateway', { UPSTREAMS_FILE: broken })).toContain(
      `UPSTREAMS_FILE (${broken}): is not valid YAML or JSON`,
    );
    const shapeless = files.write('shapeless.json', JSON.stringify({ upstream: [{ url: URL_A }] }));
    const output = await refusal('gateway', { UPSTREAMS_FILE: shapeless });
    expect(output).toContain(`UPSTREAMS_FILE (${shapeless}): field "upstreams": is required`);
    expect(output).toContain(`UPSTREAMS_FILE (${shapeless}): field "upstream": is not a field`);
  });
});

describe('the example in the READMEs', () => {
  it('is a valid file, with every field an upstream has', () => {
    const defaults = {
      UPSTREAM_INCLUDE_USAGE: true,
      UPSTREAM_CONNECTIONS: 2048,
      UPSTREAM_CONNECT_TIMEOUT_MS: 10_000,
      UPSTREAM_FIRST_BYTE_TIMEOUT_MS: 300_000,
      UPSTREAM_IDLE_TIMEOUT_MS: 120_000,
    };
    const keys = { CHEAP_KEY: 'k1', OPENAI_KEY: 'k2', DEEPSEEK_KEY: 'k3' };
    for (const readme of ['README.md', 'README.zh-CN.md']) {
      const example = /```yaml\n(# \/etc\/openai-proxy\/upstreams\.yaml\n[\s\S]*?)```/.exec(
        readRepoFile(readme),
      )?.[1];
      expect(example, readme).toBeDefined();
      const specs = readUpstreamsFile(
        files.write(`${readme}.yaml`, example ?? ''),
        {
          ...defaults,
          UPSTREAM_API_URL: [],
          UPSTREAMS_FILE: undefined,
          UPSTREAM_API_KEY: [],
          UPSTREAM_MAX_TRIES: 3,
          UPSTREAM_STREAM_RETRIES: 1,
          UPSTREAM_TOTAL_TIMEOUT_MS: 0,
          UPSTREAM_COOLDOWN_MS: 1,
          UPSTREAM_COOLDOWN_MAX_MS: 1,
        },
        keys,
      );
      expect(specs.map((spec) => spec.apiKey)).toEqual(['k1', 'k2', 'k3', undefined]);
      expect(specs.map((spec) => spec.weight)).toEqual([4, 1, 1, 1]);
      expect(specs[2]?.includeUsage).toBe(false);
      expect(specs[3]).toMatchObject({
        aliases: { 'llama-3-8b': '/models/Meta-Llama-3-8B-Instruct' },
        connections: 64,
        timeouts: { connectMs: 2000, firstByteMs: 600_000, idleMs: 60_000 },
      });
    }
  });
});

describe('GET /v1/models from the file', () => {
  it('answers the union of listed models and aliases without calling an upstream', async () => {
    const a = await startMockUpstream({ name: 'list-a' });
    const b = await startMockUpstream({ name: 'list-b' });
    try {
      const file = files.write(
        'listed.json',
        JSON.stringify({
          upstreams: [
            { url: a.chatUrl, models: ['gpt-4o', 'gpt-4o-mini'] },
            { url: b.chatUrl, models: ['gpt-4o', 'local'], aliases: { 'llama-3': 'local' } },
          ],
        }),
      );
      const gateway = await startInProcessGateway({ UPSTREAMS_FILE: file });
      try {
        const response = await fetch(`${gateway.url}/v1/models`);
        expect(response.status).toBe(200);
        const list = (await response.json()) as {
          object: string;
          data: Array<{ id: string; object: string }>;
        };
        expect(list.object).toBe('list');
        expect(list.data.map((model) => model.id)).toEqual(['gpt-4o', 'gpt-4o-mini', 'local', 'llama-3']);
        expect(list.data.every((model) => model.object === 'model')).toBe(true);
        expect(a.stats.requests + b.stats.requests).toBe(0);
      } finally {
        await gateway.stop();
      }

      // One upstream serves a glob: the list is the upstreams' own, passed through as before.
      const globbed = files.write(
        'globbed.yaml',
        `upstreams:\n  - url: ${a.chatUrl}\n    models: ["gpt-*"]\n  - url: ${b.chatUrl}\n    models: [local]\n`,
      );
      const passing = await startInProcessGateway({ UPSTREAMS_FILE: globbed });
      try {
        const response = await fetch(`${passing.url}/v1/models`);
        expect(response.status).toBe(200);
        const list = (await response.json()) as { data: Array<{ id: string }> };
        expect(list.data.map((model) => model.id)).toEqual(['mock-model']);
        expect(a.stats.requests + b.stats.requests).toBe(1);
      } finally {
        await passing.stop();
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

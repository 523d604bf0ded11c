import { describe, expect, it } from 'vitest';
import { chatCompletionsApi } from '../src/apis/chat-completions-api.js';
import { responsesApi } from '../src/apis/responses-api.js';
import type { UpstreamConfig } from '../src/config/schema.js';
import { ModelPattern } from '../src/upstream/model-pattern.js';
import { foldBody, foldBodyFor, renameModel, streamBodyFor } from '../src/upstream/routed-body.js';
import { UpstreamSet } from '../src/upstream/upstream-set.js';
import type { UpstreamSpec } from '../src/upstream/upstream-specs.js';

// The pieces of routing by model that need no server: globs, groups, the weighted pick, and each
// upstream's version of a body.

const config = {
  UPSTREAM_API_URL: ['http://one.example/v1/chat/completions'],
  UPSTREAMS_FILE: undefined,
  UPSTREAM_API_KEY: [],
  UPSTREAM_INCLUDE_USAGE: true,
  UPSTREAM_CONNECTIONS: 4,
  UPSTREAM_MAX_TRIES: 3,
  UPSTREAM_STREAM_RETRIES: 1,
  UPSTREAM_CONNECT_TIMEOUT_MS: 1000,
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: 1000,
  UPSTREAM_IDLE_TIMEOUT_MS: 1000,
  UPSTREAM_TOTAL_TIMEOUT_MS: 0,
  UPSTREAM_COOLDOWN_MS: 1000,
  UPSTREAM_COOLDOWN_MAX_MS: 1000,
} satisfies UpstreamConfig;

const spec = (host: string, fields: Partial<UpstreamSpec> = {}): UpstreamSpec => ({
  url: `http://${host}/v1/chat/completions`,
  apiKey: undefined,
  weight: 1,
  models: undefined,
  aliases: {},
  includeUsage: true,
  connections: 4,
  timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 },
  capacity: undefined,
  healthCheckPath: undefined,
  ...fields,
});

/** A set routed by `specs`, with a scripted random source. */
function setOf(specs: UpstreamSpec[], random: () => number = Math.random): UpstreamSet {
  const set = new UpstreamSet(config, { random });
  set.replace(specs);
  return set;
}

describe('ModelPattern', () => {
  it('matches exact names and * globs, and nothing else', () => {
    const pattern = new ModelPattern(['gpt-*', 'o3', '*-instruct', 'a.b']);
    for (const model of ['gpt-4o', 'gpt-', 'o3', 'llama-instruct', 'a.b'])
      expect(pattern.matches(model), model).toBe(true);
    for (const model of ['o3-mini', 'my-gpt-4o', 'axb', 'instruct', 'GPT-4o'])
      expect(pattern.matches(model), model).toBe(false);
    expect(pattern.listable).toBeUndefined();
    expect(new ModelPattern(['a', 'b']).listable).toEqual(['a', 'b']);
  });
});

describe('UpstreamSet groups', () => {
  it('groups the upstreams serving a model, by alias too, and none for an unknown one', async () => {
    const set = setOf([
      spec('a', { models: ['gpt-*'] }),
      spec('b', { models: ['gpt-4o'], aliases: { fast: 'gpt-4o-mini' } }),
      spec('c', { models: ['deepseek-chat'] }),
    ]);
    expect(set.groupFor('gpt-4o')?.members.map((u) => u.label)).toEqual(['a', 'b']);
    expect(set.groupFor('gpt-4o')?.label).toBe('a+b');
    expect(set.groupFor('gpt-3.5')?.label).toBe('a');
    expect(set.groupFor('fast')?.label).toBe('b');
    expect(set.groupFor('deepseek-chat')?.label).toBe('c');
    expect(set.groupFor('nope')).toBeUndefined();
    expect(set.groupFor(undefined)?.label).toBe('all');
    // The same members, the same group object: bounded by the configuration.
    expect(set.groupFor('gpt-4o')).toBe(set.groupFor('gpt-4o'));
    expect(set.listedModels()).toBeUndefined();
    await set.close();
  });

  it('picks by weight among healthy upstreams and never outside the group', async () => {
    const set = setOf(
      [spec('a', { weight: 4 }), spec('b', { weight: 1 }), spec('c', { models: ['other'] })],
      () => 0,
    );
    const group = set.groupFor('m');
    expect(group?.label).toBe('a+b');
    // The weights lay out [0, 4) for a and [4, 5) for b.
    const pickAt = (point: number) =>
      setOf([spec('a', { weight: 4 }), spec('b', { weight: 1 })], () => point);
    for (const [point, label] of [
      [0, 'a'],
      [0.79, 'a'],
      [0.8, 'b'],
      [0.99, 'b'],
    ] as const) {
      const other = pickAt(point);
      expect(other.groupFor('m')?.pick(new Set())?.label, String(point)).toBe(label);
      await other.close();
    }
    const [a, b] = group?.members ?? [];
    if (a === undefined || b === undefined) throw new Error('two members expected');
    // A cooling upstream is skipped while another is healthy; tried ones are excluded.
    a.health.markFailure(Date.now());
    expect(group?.pick(new Set())?.label).toBe('b');
    expect(group?.pick(new Set([b]))?.label).toBe('a');
    expect(group?.pick(new Set([a, b]))).toBeUndefined();
    await set.close();
  });

  it('lists models and aliases when every upstream lists its models by name', async () => {
    const set = setOf([spec('a', { models: ['x', 'y'] }), spec('b', { models: ['y'], aliases: { z: 'y' } })]);
    expect(set.listedModels()).toEqual(['x', 'y', 'z']);
    await set.close();
  });

  it('keeps the pool and health of an upstream a reload keeps, and closes the others', async () => {
    const set = setOf([spec('a'), spec('b')]);
    const [a, b] = set.all;
    set.replace([spec('a', { weight: 9 }), spec('c')]);
    expect(set.all[0]?.pool).toBe(a?.pool);
    expect(set.all[0]?.health).toBe(a?.health);
    expect(set.all[0]?.weight).toBe(9);
    expect(b?.pool.closed).toBe(true);
    expect(a?.pool.closed).toBe(false);
    await set.close();
  });
});

describe('bodies per upstream', () => {
  const [plain, aliased, noOptions] = setOf([
    spec('plain'),
    spec('aliased', { aliases: { short: 'long/name' } }),
    spec('no-options', { includeUsage: false }),
  ]).all;
  if (plain === undefined || aliased === undefined || noOptions === undefined)
    throw new Error('three upstreams');
  const client = { model: 'short', messages: [{ role: 'user', content: 'hi' }], stream_options: { foo: 1 } };

  it('builds a fold body with the alias and stream_options only where they are taken', () => {
    const body = foldBody(client);
    expect(JSON.parse(foldBodyFor(chatCompletionsApi, body, plain))).toEqual({
      model: 'short',
      stream: true,
      stream_options: { foo: 1, include_usage: true },
      messages: client.messages,
    });
    expect(JSON.parse(foldBodyFor(chatCompletionsApi, body, aliased)).model).toBe('long/name');
    expect(JSON.parse(foldBodyFor(chatCompletionsApi, body, noOptions))).toEqual({
      model: 'short',
      stream: true,
      messages: client.messages,
    });
    // APIs without stream_options get the client's as they came, usage or not.
    expect(JSON.parse(foldBodyFor(responsesApi, body, plain)).stream_options).toEqual({ foo: 1 });
    expect(JSON.parse(foldBodyFor(chatCompletionsApi, foldBody({ model: 'm' }), plain))).toEqual({
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("keeps a streamed request's bytes untouched unless the upstream needs its own", () => {
    const bytes = Buffer.from(JSON.stringify({ ...client, model: 'other', stream: true }));
    const parsed = JSON.parse(bytes.toString()) as Record<string, unknown>;
    expect(streamBodyFor(chatCompletionsApi, parsed, bytes, plain)).toBe(bytes);
    expect(streamBodyFor(chatCompletionsApi, parsed, bytes, aliased)).toBe(bytes);
    const dropped = JSON.parse(String(streamBodyFor(chatCompletionsApi, parsed, bytes, noOptions)));
    expect(dropped).not.toHaveProperty('stream_options');
    expect(dropped).toMatchObject({ model: 'other', stream: true });
    const renamed = JSON.parse(
      String(streamBodyFor(chatCompletionsApi, { ...parsed, model: 'short' }, bytes, aliased)),
    );
    expect(renamed).toMatchObject({ model: 'long/name', stream_options: { foo: 1 }, stream: true });
  });

  it('renames every model member of JSON text, not text that only looks like one', () => {
    const text = '{"model":"long/name","x":"say \\"model\\":\\"no\\"","message":{"model" : "long/name"}}';
    expect(JSON.parse(renameModel(text, 'sh"ort'))).toEqual({
      model: 'sh"ort',
      x: 'say "model":"no"',
      message: { model: 'sh"ort' },
    });
  });
});

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DocumentOptions, ParseOptions } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/config-error.js';
import { isHttpUrl } from '../config/env-schema.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { UpstreamTimeouts } from './call-upstream.js';

/**
 * The YAML parser, loaded the first time a file is read: configuration is read synchronously, and
 * a process without UPSTREAMS_FILE should not carry the parser (about 8 MB of resident memory).
 */
function parseYaml(text: string, options: ParseOptions & DocumentOptions): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text, options);
}

/** One upstream as configured: where it is, what it serves and how to call it. */
export interface UpstreamSpec {
  /** Its chat-completions URL; the other `/v1` endpoints live beside it. */
  url: string;
  /** Its own key; undefined: the client's key is passed on. */
  apiKey: string | undefined;
  /** Its share of the random pick among the healthy upstreams serving a model. */
  weight: number;
  /** Names and `*` globs it serves; undefined: every model. */
  models: readonly string[] | undefined;
  /** The name a client asks for → the name this upstream knows. */
  aliases: Readonly<Record<string, string>>;
  /** Whether it accepts `stream_options` (folded answers then ask it for usage). */
  includeUsage: boolean;
  connections: number;
  timeouts: UpstreamTimeouts;
}

type Env = Record<string, string | undefined>;

/** The upstreams this configuration names: from UPSTREAMS_FILE, or one per URL in UPSTREAM_API_URL. */
export function upstreamSpecs(config: UpstreamConfig, env: Env): UpstreamSpec[] {
  if (config.UPSTREAMS_FILE !== undefined) return readUpstreamsFile(config.UPSTREAMS_FILE, config, env);
  const keys = config.UPSTREAM_API_KEY;
  return config.UPSTREAM_API_URL.map((url, index) => ({
    url,
    apiKey: keys.length > 1 ? keys[index] : keys[0],
    weight: 1,
    models: undefined,
    aliases: {},
    includeUsage: config.UPSTREAM_INCLUDE_USAGE,
    connections: config.UPSTREAM_CONNECTIONS,
    timeouts: defaultTimeouts(config),
  }));
}

function defaultTimeouts(config: UpstreamConfig): UpstreamTimeouts {
  return {
    connectMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    firstByteMs: config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    idleMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
  };
}

const modelName = z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be empty' });
const positiveMs = z
  .int({ error: 'must be a whole number of milliseconds' })
  .min(1, { error: 'must be at least 1' });

const upstreamEntry = z.strictObject(
  {
    url: z
      .string({ error: 'is required: the upstream chat-completions URL' })
      .refine(isHttpUrl, { error: (issue) => `"${String(issue.input)}" is not an http(s) URL` }),
    key: z.string({ error: `must be a string: the key itself or \${ENV_NAME}` }).min(1).optional(),
    weight: z
      .number({ error: 'must be a number' })
      .positive({ error: 'must be greater than 0' })
      .max(1_000_000, { error: 'must be at most 1000000' })
      .default(1),
    models: z
      .array(modelName, { error: 'must be a list of model names and * globs' })
      .min(1, { error: 'must list at least one model; leave it out to serve every model' })
      .optional(),
    aliases: z
      .record(modelName, modelName, {
        error: 'must map the name a client asks for to the name this upstream knows',
      })
      .optional(),
    include_usage: z.boolean({ error: 'must be true or false' }).optional(),
    connections: z
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be at least 1' })
      .optional(),
    connect_timeout_ms: positiveMs.optional(),
    first_byte_timeout_ms: positiveMs.optional(),
    idle_timeout_ms: positiveMs.optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'must be a mapping of fields') },
);

const upstreamsFile = z.strictObject(
  {
    upstreams: z
      .array(upstreamEntry, { error: 'is required: a list of upstreams' })
      .min(1, { error: 'must list at least one upstream' }),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? undefined : 'must be a mapping with `upstreams:`',
  },
);

type UpstreamEntry = z.infer<typeof upstreamEntry>;

/** `key: ${NAME}` reads the key from the environment, so secrets stay out of the file. */
const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Reads and checks UPSTREAMS_FILE (YAML, of which JSON is a subset). Throws a ConfigError whose
 * lines name the file, the entry (`upstreams[1]`, with its URL when it has one) and the field.
 * The variables about upstream calls are the defaults of what an entry leaves out.
 */
export function readUpstreamsFile(path: string, config: UpstreamConfig, env: Env): UpstreamSpec[] {
  const where = `UPSTREAMS_FILE (${path})`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`Invalid configuration:\n  ${where}: cannot be read (${reason})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(`Invalid configuration:\n  ${where}: is not valid YAML or JSON: ${detail}`);
  }
  const parsed = upstreamsFile.safeParse(document);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      if (issue.code !== 'unrecognized_keys')
        return `  ${where}: ${describePath(issue.path, document)}: ${issue.message}`;
      const fields =
        issue.path.length === 0 ? 'the top level holds only `upstreams:`' : `an upstream has ${FIELDS}`;
      return issue.keys
        .map(
          (key) => `  ${where}: ${describePath([...issue.path, key], document)}: is not a field (${fields})`,
        )
        .join('\n');
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const problems: string[] = [];
  const specs = parsed.data.upstreams.map((entry, index) => {
    const apiKey = resolveKey(entry, env, (message) =>
      problems.push(`  ${where}: ${entryName(index, entry.url)}, field "key": ${message}`),
    );
    return toSpec(entry, apiKey, config);
  });
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return specs;
}

const FIELDS = Object.keys(upstreamEntry.shape).join(', ');

function resolveKey(entry: UpstreamEntry, env: Env, problem: (message: string) => void): string | undefined {
  if (entry.key === undefined) return undefined;
  const reference = ENV_REFERENCE.exec(entry.key);
  if (reference === null) return entry.key;
  const name = reference[1] ?? '';
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    problem(`names the environment variable ${name}, which is not set`);
    return undefined;
  }
  return value;
}

function toSpec(entry: UpstreamEntry, apiKey: string | undefined, config: UpstreamConfig): UpstreamSpec {
  const defaults = defaultTimeouts(config);
  return {
    url: entry.url,
    apiKey,
    weight: entry.weight,
    models: entry.models,
    aliases: entry.aliases ?? {},
    includeUsage: entry.include_usage ?? config.UPSTREAM_INCLUDE_USAGE,
    connections: entry.connections ?? config.UPSTREAM_CONNECTIONS,
    timeouts: {
      connectMs: entry.connect_timeout_ms ?? defaults.connectMs,
      firstByteMs: entry.first_byte_timeout_ms ?? defaults.firstByteMs,
      idleMs: entry.idle_timeout_ms ?? defaults.idleMs,
    },
  };
}

function entryName(index: number, url: unknown): string {
  return typeof url === 'string' ? `upstreams[${index}] (${url})` : `upstreams[${index}]`;
}

/** `upstreams[1] (https://…), field "weight"`: where an issue lies, in the file's own terms. */
function describePath(path: readonly PropertyKey[], document: unknown): string {
  if (path.length === 0) return 'the top level';
  if (path[0] !== 'upstreams' || typeof path[1] !== 'number') return `field "${path.map(String).join('.')}"`;
  const entries = (document as { upstreams?: unknown }).upstreams;
  const entry = Array.isArray(entries) ? (entries[path[1]] as { url?: unknown } | undefined) : undefined;
  const name = entryName(path[1], entry?.url);
  if (path.length === 2) return name;
  const field = path
    .slice(2)
    .map((part, at) =>
      typeof part === 'number' ? `[${part}]` : at === 0 ? String(part) : `.${String(part)}`,
    )
    .join('');
  return `${name}, field "${field}"`;
}

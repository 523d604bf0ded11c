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
  /** Its chat-completions URL, or its base URL ending in `/v1`; the other endpoints live beside chat. */
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
  /** Limits this upstream's provider sets on its key; undefined: none configured. */
  capacity: UpstreamCapacity | undefined;
  /**
   * The path below `/v1` probed with a GET while it cools down after a failure (`/models` for
   * `health_check: true`): an answer below 500 brings it back at once. Undefined: no probe.
   */
  healthCheckPath: string | undefined;
}

/**
 * What one upstream may be given, shared by every worker through Redis: calls at once, requests
 * and tokens per minute. Each is optional; the upstream's own rate-limit headers are learnt on top.
 */
export interface UpstreamCapacity {
  maxConcurrency?: number;
  rpm?: number;
  tpm?: number;
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
    capacity: undefined,
    healthCheckPath: undefined,
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

const positiveCount = z.int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' });

const upstreamEntry = z.strictObject(
  {
    url: z
      .string({
        error: 'is required: the upstream chat-completions URL, or its base URL ending in /v1',
      })
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
    max_concurrency: positiveCount.optional(),
    rpm: positiveCount.optional(),
    tpm: positiveCount.optional(),
    health_check: z
      .union([z.boolean(), z.string().regex(/^\/[^\s]*$/)], {
        error: 'must be true, false, or a path below /v1 starting with / (e.g. /models)',
      })
      .optional(),
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
    throw ConfigError.of([`${where}: cannot be read (${reason})`]);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw ConfigError.of([`${where}: is not valid YAML or JSON: ${detail}`]);
  }
  const parsed = upstreamsFile.safeParse(document);
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.flatMap((issue) => issueLines(issue, where, document));
  // Looked up even when other fields are wrong, so every problem is listed at once.
  problems.push(...unsetKeyReferences(document, env, where));
  if (!parsed.success || problems.length > 0) throw ConfigError.of(problems);
  return parsed.data.upstreams.map((entry) => toSpec(entry, resolveKey(entry, env), config));
}

/** One issue of the file's schema, in the file's own terms (unknown fields: a line each). */
function issueLines(issue: z.core.$ZodIssue, where: string, document: unknown): string[] {
  if (issue.code !== 'unrecognized_keys')
    return [`${where}: ${describePath(issue.path, document)}: ${issue.message}`];
  const fields =
    issue.path.length === 0 ? 'the top level holds only `upstreams:`' : `an upstream has ${FIELDS}`;
  return issue.keys.map(
    (key) => `${where}: ${describePath([...issue.path, key], document)}: is not a field (${fields})`,
  );
}

const FIELDS = Object.keys(upstreamEntry.shape).join(', ');

/** The `key: ${NAME}` entries whose variable is not set, read from the document as written. */
function unsetKeyReferences(document: unknown, env: Env, where: string): string[] {
  const entries =
    typeof document === 'object' && document !== null
      ? (document as { upstreams?: unknown }).upstreams
      : undefined;
  if (!Array.isArray(entries)) return [];
  return entries.flatMap((entry: unknown, index) => {
    const fields =
      typeof entry === 'object' && entry !== null ? (entry as { key?: unknown; url?: unknown }) : {};
    const name = typeof fields.key === 'string' ? ENV_REFERENCE.exec(fields.key)?.[1] : undefined;
    if (name === undefined || isSet(env[name])) return [];
    return [
      `${where}: ${entryName(index, fields.url)}, field "key": names the environment variable ${name}, which is not set`,
    ];
  });
}

const isSet = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** The entry's key, a `${NAME}` read from the environment (checked set by `unsetKeyReferences`). */
function resolveKey(entry: UpstreamEntry, env: Env): string | undefined {
  if (entry.key === undefined) return undefined;
  const name = ENV_REFERENCE.exec(entry.key)?.[1];
  return name === undefined ? entry.key : env[name];
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
    capacity: capacityOf(entry),
    healthCheckPath: entry.health_check === true ? '/models' : entry.health_check || undefined,
  };
}

function capacityOf(entry: UpstreamEntry): UpstreamCapacity | undefined {
  const capacity: UpstreamCapacity = {
    ...(entry.max_concurrency === undefined ? {} : { maxConcurrency: entry.max_concurrency }),
    ...(entry.rpm === undefined ? {} : { rpm: entry.rpm }),
    ...(entry.tpm === undefined ? {} : { tpm: entry.tpm }),
  };
  return Object.keys(capacity).length === 0 ? undefined : capacity;
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

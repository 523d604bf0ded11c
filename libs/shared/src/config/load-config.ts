import type { z } from 'zod';
import { upstreamSpecs } from '../upstream/upstream-specs.js';
import { ConfigError } from './config-error.js';
import { type RedisSettings, redisTopology } from './redis-topology.js';
import type { UpstreamConfig } from './schema.js';

export { ConfigError };

export type Env = Record<string, string | undefined>;

/** A check across variables, run only when every variable it reads could be read. */
interface CrossCheck {
  reads: readonly string[];
  run(config: UpstreamConfig & RedisSettings, env: Env): void;
}

const CROSS_CHECKS: readonly CrossCheck[] = [
  {
    reads: ['UPSTREAM_API_URL', 'UPSTREAMS_FILE', 'UPSTREAM_API_KEY'],
    run: (config) => checkUpstreamSource(config),
  },
  { reads: ['UPSTREAM_API_URL', 'UPSTREAM_API_KEY'], run: (config) => checkKeyCount(config) },
  // The file is read here too, so a bad one stops the process before anything starts.
  { reads: ['UPSTREAMS_FILE'], run: (config, env) => upstreamSpecs(config, env) },
  // Exactly one Redis topology, complete: checked here so a bad one stops the process at start.
  {
    reads: [
      'REDIS_URL',
      'REDIS_SENTINELS',
      'REDIS_SENTINEL_MASTER',
      'REDIS_SENTINEL_PASSWORD',
      'REDIS_CLUSTER_NODES',
      'REDIS_USERNAME',
      'REDIS_PASSWORD',
    ],
    run: (config) => redisTopology(config),
  },
];

/**
 * An app's configuration from the environment, checked against its schema (which includes the
 * upstream variables) and across variables. Every problem is reported at once, one line each,
 * naming the variable, what it expected and what it got: a newcomer fixes them in one go
 * instead of one per start.
 */
export function loadConfig<T extends z.ZodType<UpstreamConfig & RedisSettings>>(
  schema: T,
  env: Env,
): z.infer<T> {
  const problems: string[] = [];
  const unreadable = new Set<string>();
  const parsed = schema.safeParse(env);
  let config: z.infer<T>;
  if (parsed.success) config = parsed.data;
  else {
    for (const issue of parsed.error.issues) {
      // The variable alone: the message names the item of a list that is wrong.
      const name = String(issue.path[0] ?? '(environment)');
      unreadable.add(name);
      problems.push(`${name}: ${issue.message}`);
    }
    // The rest is still checked: the variables that could not be read count as unset for now.
    const rest = schema.safeParse(withoutVariables(env, unreadable));
    if (!rest.success) throw ConfigError.of(problems);
    config = rest.data;
  }
  for (const check of CROSS_CHECKS) {
    if (check.reads.some((name) => unreadable.has(name))) continue;
    problems.push(...problemsOf(() => check.run(config, env)));
  }
  if (problems.length > 0) throw ConfigError.of(problems);
  return config;
}

function withoutVariables(env: Env, names: ReadonlySet<string>): Env {
  const rest = { ...env };
  for (const name of names) delete rest[name];
  return rest;
}

/** The problems `check` finds: none, or the lines of the ConfigError it throws. */
function problemsOf(check: () => unknown): string[] {
  try {
    check();
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

/**
 * For an app's main module: the loaded configuration, or — when it cannot run — its message on
 * stderr, prefixed with the app's name, and exit code 1.
 */
export function loadConfigOrExit<T>(app: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`openai-proxy ${app}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Upstreams come from one place: UPSTREAM_API_URL (with UPSTREAM_API_KEY), or UPSTREAMS_FILE. */
function checkUpstreamSource(config: UpstreamConfig): void {
  const hasUrls = config.UPSTREAM_API_URL.length > 0;
  if (config.UPSTREAMS_FILE === undefined) {
    if (hasUrls) return;
    throw ConfigError.of([
      'UPSTREAM_API_URL: is required: one or more chat-completions URLs (https://host/v1/chat/completions) or base URLs ending in /v1 (https://host/v1), comma-separated (or name a file of upstreams in UPSTREAMS_FILE)',
    ]);
  }
  const problems: string[] = [];
  if (hasUrls)
    problems.push(
      'UPSTREAM_API_URL, UPSTREAMS_FILE: both are set; set UPSTREAM_API_URL for the simple form or UPSTREAMS_FILE for a file of upstreams, not both',
    );
  if (config.UPSTREAM_API_KEY.length > 0)
    problems.push(
      `UPSTREAM_API_KEY, UPSTREAMS_FILE: both are set; with a file, each upstream takes its \`key\` there (\`key: \${ENV_NAME}\` reads it from the environment)`,
    );
  if (problems.length > 0) throw ConfigError.of(problems);
}

/** One key for every URL, or one per URL. */
function checkKeyCount(config: UpstreamConfig): void {
  const urls = config.UPSTREAM_API_URL;
  const keys = config.UPSTREAM_API_KEY;
  if (keys.length > 1 && keys.length !== urls.length)
    throw ConfigError.of([
      `UPSTREAM_API_KEY: has ${keys.length} keys for ${urls.length} URLs in UPSTREAM_API_URL; give one key, or one per URL`,
    ]);
}

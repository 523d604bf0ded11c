import type { z } from 'zod';
import { upstreamSpecs } from '../upstream/upstream-specs.js';
import { ConfigError } from './config-error.js';
import { type RedisSettings, redisTopology } from './redis-topology.js';
import type { UpstreamConfig } from './schema.js';

export { ConfigError };

export type Env = Record<string, string | undefined>;

/**
 * An app's configuration from the environment, checked against its schema (which includes the
 * upstream variables): every bad variable is named with what it expected.
 */
export function loadConfig<T extends z.ZodType<UpstreamConfig & RedisSettings>>(
  schema: T,
  env: Env,
): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  checkUpstreamSource(config);
  const urls = config.UPSTREAM_API_URL;
  const keys = config.UPSTREAM_API_KEY;
  if (keys.length > 1 && keys.length !== urls.length) {
    throw new ConfigError(
      `Invalid configuration:\n  UPSTREAM_API_KEY: has ${keys.length} keys for ${urls.length} URLs in UPSTREAM_API_URL; give one key, or one per URL`,
    );
  }
  // The file is read here too, so a bad one stops the process before anything starts.
  upstreamSpecs(config, env);
  // Exactly one Redis topology, complete: checked here so a bad one stops the process at start.
  redisTopology(config);
  return config;
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
    throw new ConfigError(
      'Invalid configuration:\n  UPSTREAM_API_URL: is required: one or more full chat-completions URLs, comma-separated (or name a file of upstreams in UPSTREAMS_FILE)',
    );
  }
  if (hasUrls)
    throw new ConfigError(
      'Invalid configuration:\n  UPSTREAM_API_URL, UPSTREAMS_FILE: both are set; set UPSTREAM_API_URL for the simple form or UPSTREAMS_FILE for a file of upstreams, not both',
    );
  if (config.UPSTREAM_API_KEY.length > 0)
    throw new ConfigError(
      `Invalid configuration:\n  UPSTREAM_API_KEY, UPSTREAMS_FILE: both are set; with a file, each upstream takes its \`key\` there (\`key: \${ENV_NAME}\` reads it from the environment)`,
    );
}

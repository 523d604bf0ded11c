import type { z } from 'zod';
import { type RedisSettings, redisTopology } from './redis-topology.js';
import type { UpstreamConfig } from './schema.js';

/** A configuration that cannot run; the message names each variable and what it expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

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
  const urls = config.UPSTREAM_API_URL;
  const keys = config.UPSTREAM_API_KEY;
  if (keys.length > 1 && keys.length !== urls.length) {
    throw new ConfigError(
      `Invalid configuration:\n  UPSTREAM_API_KEY: has ${keys.length} keys for ${urls.length} URLs in UPSTREAM_API_URL; give one key, or one per URL`,
    );
  }
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

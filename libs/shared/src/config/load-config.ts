import type { z } from 'zod';
import { type GatewayConfig, gatewaySchema, type WorkerConfig, workerSchema } from './schema.js';

/** A configuration that cannot run; the message names each variable and what it expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function parseOrThrow<T extends z.ZodType>(schema: T, env: Env): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map(
    (issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`,
  );
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const config = parseOrThrow(gatewaySchema, env);
  checkUpstreamKeys(config.UPSTREAM_API_URL, config.UPSTREAM_API_KEY);
  return config;
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const config = parseOrThrow(workerSchema, env);
  checkUpstreamKeys(config.UPSTREAM_API_URL, config.UPSTREAM_API_KEY);
  return config;
}

function checkUpstreamKeys(urls: string[], keys: string[]): void {
  if (keys.length > 1 && keys.length !== urls.length) {
    throw new ConfigError(
      `Invalid configuration:\n  UPSTREAM_API_KEY: has ${keys.length} keys for ${urls.length} URLs in UPSTREAM_API_URL; give one key, or one per URL`,
    );
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

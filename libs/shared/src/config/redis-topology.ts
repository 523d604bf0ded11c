import { ConfigError } from './config-error.js';

/**
 * Which Redis the proxy meets in, from the environment: one server (`REDIS_URL`), a master
 * found through Sentinel, or a Redis Cluster. Exactly one may be configured; none is the
 * gateway's standalone mode. Pure and cheap, so every place that needs it derives it from the
 * configuration instead of carrying a second copy of it.
 */
export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTopology =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: RedisNode[];
      masterName: string;
      sentinelPassword?: string;
      username?: string;
      password?: string;
    }
  | { kind: 'cluster'; nodes: RedisNode[]; username?: string; password?: string };

/** The variables the topology is read from (all in `commonVars`). */
export interface RedisSettings {
  REDIS_URL?: string | undefined;
  REDIS_SENTINELS: string[];
  REDIS_SENTINEL_MASTER?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  REDIS_CLUSTER_NODES: string[];
  REDIS_USERNAME?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
}

const invalid = (variables: string, message: string) =>
  new ConfigError(`Invalid configuration:\n  ${variables}: ${message}`);

function parseNodes(variable: string, entries: string[]): RedisNode[] {
  return entries.map((entry) => {
    // `host:port`; an IPv6 host is written in brackets, as in a URL.
    const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65_535) {
      throw invalid(variable, `"${entry}" is not host:port (a comma-separated list of them is expected)`);
    }
    return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
  });
}

const credentials = (settings: RedisSettings) => ({
  ...(settings.REDIS_USERNAME === undefined ? {} : { username: settings.REDIS_USERNAME }),
  ...(settings.REDIS_PASSWORD === undefined ? {} : { password: settings.REDIS_PASSWORD }),
});

/** The configured topology, undefined when none is; a ConfigError naming the variables when it is inconsistent. */
export function redisTopology(settings: RedisSettings): RedisTopology | undefined {
  const sentinelVars = [
    settings.REDIS_SENTINELS.length > 0 ? 'REDIS_SENTINELS' : undefined,
    settings.REDIS_SENTINEL_MASTER === undefined ? undefined : 'REDIS_SENTINEL_MASTER',
  ].filter((name) => name !== undefined);
  const chosen = [
    settings.REDIS_URL === undefined ? undefined : 'REDIS_URL',
    sentinelVars.length > 0 ? sentinelVars.join(' + ') : undefined,
    settings.REDIS_CLUSTER_NODES.length > 0 ? 'REDIS_CLUSTER_NODES' : undefined,
  ].filter((name) => name !== undefined);
  if (chosen.length > 1) {
    throw invalid(
      chosen.join(', '),
      'configure exactly one Redis: REDIS_URL (one server), REDIS_SENTINELS with REDIS_SENTINEL_MASTER (Sentinel), or REDIS_CLUSTER_NODES (Cluster)',
    );
  }
  const hasCredentials = settings.REDIS_USERNAME !== undefined || settings.REDIS_PASSWORD !== undefined;
  if (settings.REDIS_SENTINEL_PASSWORD !== undefined && sentinelVars.length === 0) {
    throw invalid('REDIS_SENTINEL_PASSWORD', 'is set without REDIS_SENTINELS and REDIS_SENTINEL_MASTER');
  }
  if (settings.REDIS_URL !== undefined) {
    if (hasCredentials) {
      throw invalid(
        'REDIS_USERNAME, REDIS_PASSWORD',
        'are for Sentinel and Cluster nodes; with REDIS_URL put them in the URL (redis://user:password@host:port)',
      );
    }
    return { kind: 'single', url: singleUrl(settings.REDIS_URL) };
  }
  if (sentinelVars.length > 0) {
    if (settings.REDIS_SENTINEL_MASTER === undefined) {
      throw invalid(
        'REDIS_SENTINEL_MASTER',
        'is required with REDIS_SENTINELS: the name the sentinels monitor the master by',
      );
    }
    if (settings.REDIS_SENTINELS.length === 0) {
      throw invalid(
        'REDIS_SENTINELS',
        'is required with REDIS_SENTINEL_MASTER: the sentinels as host:port,…',
      );
    }
    return {
      kind: 'sentinel',
      sentinels: parseNodes('REDIS_SENTINELS', settings.REDIS_SENTINELS),
      masterName: settings.REDIS_SENTINEL_MASTER,
      ...(settings.REDIS_SENTINEL_PASSWORD === undefined
        ? {}
        : { sentinelPassword: settings.REDIS_SENTINEL_PASSWORD }),
      ...credentials(settings),
    };
  }
  if (settings.REDIS_CLUSTER_NODES.length > 0) {
    return {
      kind: 'cluster',
      nodes: parseNodes('REDIS_CLUSTER_NODES', settings.REDIS_CLUSTER_NODES),
      ...credentials(settings),
    };
  }
  if (hasCredentials) {
    throw invalid(
      'REDIS_USERNAME, REDIS_PASSWORD',
      'are set without REDIS_SENTINELS or REDIS_CLUSTER_NODES (with REDIS_URL, credentials go in the URL)',
    );
  }
  return undefined;
}

function singleUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(
      'REDIS_URL',
      `"${value}" is not a URL (redis://[user:password@]host:port[/db] or rediss:// for TLS)`,
    );
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw invalid('REDIS_URL', 'must be redis://[user:password@]host:port[/db], or rediss://… for TLS');
  }
  return value;
}

/** Where the topology is, for logs: never a password. */
export function describeTopology(topology: RedisTopology): string {
  const nodes = (list: RedisNode[]) => list.map((node) => `${node.host}:${node.port}`).join(',');
  switch (topology.kind) {
    case 'single': {
      const url = new URL(topology.url);
      return `${url.protocol}//${url.host}`;
    }
    case 'sentinel':
      return `sentinel ${topology.masterName}@${nodes(topology.sentinels)}`;
    case 'cluster':
      return `cluster ${nodes(topology.nodes)}`;
  }
}

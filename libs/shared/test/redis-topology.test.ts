import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/load-config.js';
import { describeTopology, type RedisSettings, redisTopology } from '../src/config/redis-topology.js';

// Which Redis the environment names: exactly one topology, complete, or none (standalone);
// anything else is a ConfigError that names the variables involved.

const settings = (fields: Partial<RedisSettings>): RedisSettings => ({
  REDIS_SENTINELS: [],
  REDIS_CLUSTER_NODES: [],
  ...fields,
});

/** The message of the ConfigError `fields` cause. */
function failure(fields: Partial<RedisSettings>): string {
  try {
    redisTopology(settings(fields));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('no ConfigError');
}

describe('redisTopology', () => {
  it('is undefined when no Redis is configured (standalone)', () => {
    expect(redisTopology(settings({}))).toBeUndefined();
  });

  it('reads one server from redis:// or rediss://, credentials included', () => {
    expect(redisTopology(settings({ REDIS_URL: 'rediss://proxy:s3cret@redis.example:6380/2' }))).toEqual({
      kind: 'single',
      url: 'rediss://proxy:s3cret@redis.example:6380/2',
    });
    expect(failure({ REDIS_URL: 'http://redis:6379' })).toMatch(/REDIS_URL: must be redis:\/\//);
    expect(failure({ REDIS_URL: 'not a url' })).toMatch(/REDIS_URL: "not a url" is not a URL/);
  });

  it('reads Sentinel: sentinels, master name, passwords', () => {
    expect(
      redisTopology(
        settings({
          REDIS_SENTINELS: ['10.0.0.1:26379', 'sentinel-b:26380', '[::1]:26381'],
          REDIS_SENTINEL_MASTER: 'main',
          REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
          REDIS_USERNAME: 'proxy',
          REDIS_PASSWORD: 'node-pw',
        }),
      ),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'main',
      sentinelPassword: 'sentinel-pw',
      username: 'proxy',
      password: 'node-pw',
    });
  });

  it('reads Cluster nodes', () => {
    expect(
      redisTopology(settings({ REDIS_CLUSTER_NODES: ['a:7000', 'b:7001'], REDIS_PASSWORD: 'pw' })),
    ).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      password: 'pw',
    });
  });

  it('refuses two topologies at once, naming both', () => {
    expect(failure({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: ['a:7000'] })).toMatch(
      /^Invalid configuration:\n {2}REDIS_URL, REDIS_CLUSTER_NODES: configure exactly one Redis/,
    );
    expect(
      failure({ REDIS_SENTINELS: ['s:26379'], REDIS_SENTINEL_MASTER: 'm', REDIS_CLUSTER_NODES: ['a:7000'] }),
    ).toMatch(/REDIS_SENTINELS \+ REDIS_SENTINEL_MASTER, REDIS_CLUSTER_NODES: configure exactly one/);
  });

  it('refuses a partial Sentinel configuration, naming what is missing', () => {
    expect(failure({ REDIS_SENTINELS: ['s:26379'] })).toMatch(/ {2}REDIS_SENTINEL_MASTER: is required/);
    expect(failure({ REDIS_SENTINEL_MASTER: 'm' })).toMatch(/ {2}REDIS_SENTINELS: is required/);
    expect(failure({ REDIS_SENTINEL_PASSWORD: 'pw' })).toMatch(/ {2}REDIS_SENTINEL_PASSWORD: is set without/);
  });

  it('refuses node credentials where they do not apply', () => {
    expect(failure({ REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'pw' })).toMatch(
      /REDIS_USERNAME, REDIS_PASSWORD: are for Sentinel and Cluster nodes/,
    );
    expect(failure({ REDIS_USERNAME: 'u' })).toMatch(/REDIS_USERNAME, REDIS_PASSWORD: are set without/);
  });

  it('refuses a node that is not host:port', () => {
    expect(failure({ REDIS_CLUSTER_NODES: ['a:7000', 'b'] })).toMatch(
      / {2}REDIS_CLUSTER_NODES: "b" is not host:port/,
    );
    expect(failure({ REDIS_SENTINELS: ['s:99999'], REDIS_SENTINEL_MASTER: 'm' })).toMatch(
      /REDIS_SENTINELS: "s:99999" is not host:port/,
    );
  });

  it('is described for logs without a password', () => {
    const described = [
      { REDIS_URL: 'rediss://proxy:s3cret@redis.example:6380/2' },
      { REDIS_SENTINELS: ['s:26379'], REDIS_SENTINEL_MASTER: 'main', REDIS_PASSWORD: 's3cret' },
      { REDIS_CLUSTER_NODES: ['a:7000', 'b:7001'], REDIS_PASSWORD: 's3cret' },
    ].map((fields) =>
      describeTopology(redisTopology(settings(fields)) as NonNullable<ReturnType<typeof redisTopology>>),
    );
    expect(described).toEqual([
      'rediss://redis.example:6380',
      'sentinel main@s:26379',
      'cluster a:7000,b:7001',
    ]);
  });
});

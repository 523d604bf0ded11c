import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { intVar } from '../src/config/env-schema.js';
import { ConfigError, type Env, loadConfig } from '../src/config/load-config.js';
import { commonVars } from '../src/config/schema.js';

// A configuration that cannot run stops the process with every problem at once, each one line
// in words: the variable, what it expected, what it got. Bad variables, the checks across
// variables and the upstreams file's problems (`${NAME}` keys included) come in one message.

const schema = z.object({ ...commonVars, PORT: intVar(3000, 0, 65_535) });
const URL = 'http://u.example/v1/chat/completions';

const dir = mkdtempSync(join(tmpdir(), 'config-problems-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The problem lines of the ConfigError `env` causes. */
function problems(env: Env): string[] {
  try {
    loadConfig(schema, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const [heading, ...lines] = (error as ConfigError).message.split('\n');
    expect(heading).toBe('Invalid configuration:');
    for (const line of lines) expect(line).toMatch(/^ {2}\S/);
    return lines.map((line) => line.trim());
  }
  throw new Error('no ConfigError');
}

describe('a bad variable is named with what it expected and what it got', () => {
  it('numbers, booleans and log levels, in words rather than the schema library’s', () => {
    expect(
      problems({
        UPSTREAM_API_URL: URL,
        PORT: 'abc',
        UPSTREAM_CONNECTIONS: '-1',
        UPSTREAM_MAX_TRIES: '2.5',
        LOG_PRETTY: 'maybe',
        LOG_LEVEL: 'verbose',
      }).sort(),
    ).toEqual(
      [
        'PORT: must be a whole number from 0 to 65535, got "abc"',
        'UPSTREAM_CONNECTIONS: must be a whole number, 0 or more, got "-1"',
        'UPSTREAM_MAX_TRIES: must be a whole number, 1 or more, got "2.5"',
        'LOG_PRETTY: must be true or false (or 1/0, yes/no, on/off), got "maybe"',
        'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      ].sort(),
    );
  });

  it('reads good values as before: numbers, words for booleans, blanks as unset', () => {
    const config = loadConfig(schema, {
      UPSTREAM_API_URL: URL,
      PORT: ' 8080 ',
      LOG_PRETTY: 'yes',
      UPSTREAM_CONNECTIONS: '',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      PORT: 8080,
      LOG_PRETTY: true,
      // Unset: 0, each app's own limit (a gateway's MAX_INFLIGHT, a worker's WORKER_CONCURRENCY).
      UPSTREAM_CONNECTIONS: 0,
      LOG_LEVEL: 'debug',
    });
  });
});

describe('every problem at once', () => {
  it('bad variables, a missing upstream and a bad Redis in one message', () => {
    expect(problems({ PORT: '70000', REDIS_URL: 'http://redis:6379' })).toEqual([
      'PORT: must be a whole number from 0 to 65535, got "70000"',
      expect.stringMatching(/^UPSTREAM_API_URL: is required: .*base URLs ending in \/v1/),
      expect.stringMatching(/^REDIS_URL: must be redis:\/\//),
    ]);
  });

  it('the file’s problems and its unset key variables beside the other variables’', () => {
    const file = join(dir, 'upstreams.yaml');
    writeFileSync(
      file,
      `upstreams:\n  - url: ${URL}\n    weight: 0\n  - url: ${URL}\n    key: \${NOT_SET_HERE}\n`,
    );
    const where = `UPSTREAMS_FILE (${file})`;
    expect(problems({ UPSTREAMS_FILE: file, UPSTREAM_IDLE_TIMEOUT_MS: 'soon' })).toEqual([
      'UPSTREAM_IDLE_TIMEOUT_MS: must be a whole number, 1 or more, got "soon"',
      `${where}: upstreams[0] (${URL}), field "weight": must be greater than 0`,
      `${where}: upstreams[1] (${URL}), field "key": names the environment variable NOT_SET_HERE, which is not set`,
    ]);
  });

  it('a variable that cannot be read is not reported again as missing', () => {
    expect(problems({ UPSTREAM_API_URL: 'not a url', PORT: 'x' })).toEqual([
      'UPSTREAM_API_URL: "not a url" is not an http(s) URL',
      'PORT: must be a whole number from 0 to 65535, got "x"',
    ]);
  });
});

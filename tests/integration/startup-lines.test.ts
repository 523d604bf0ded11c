import { runAppToExit, startApp } from '@openai-proxy/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { upstreamsFileDir } from './support/upstreams-file.js';

// What a newcomer reads when the gateway starts: every configuration problem at once, each in
// words, and a warning when GATEWAY_API_KEYS leaves upstreams without any key (clients' keys are
// the gateway's own then, never passed on). Real processes: what is tested is what they print.

const files = upstreamsFileDir();
afterAll(() => files.remove());

const UPSTREAM = 'http://127.0.0.1:9/v1/chat/completions';

/** The lines a gateway printed by the time it listens, parsed. */
async function startLines(env: Record<string, string>): Promise<Array<{ level: number; msg: string }>> {
  const gateway = await startApp('gateway', env);
  try {
    return gateway.output.map((line) => JSON.parse(line) as { level: number; msg: string });
  } finally {
    await gateway.stop();
  }
}

const WARN = 40;
const keyWarnings = (lines: Array<{ level: number; msg: string }>) =>
  lines.filter((line) => line.msg.includes('GATEWAY_API_KEYS'));

describe('GATEWAY_API_KEYS without a key for the upstreams', () => {
  it('warns once, naming GATEWAY_API_KEYS and UPSTREAM_API_KEY and what happens', async () => {
    const warnings = keyWarnings(await startLines({ UPSTREAM_API_URL: UPSTREAM, GATEWAY_API_KEYS: 'gk-1' }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe(WARN);
    expect(warnings[0]?.msg).toMatch(/^GATEWAY_API_KEYS is set and UPSTREAM_API_KEY is not: /);
    expect(warnings[0]?.msg).toContain('not passed on, so upstream calls carry no key');
    expect(warnings[0]?.msg).not.toContain('gk-1');
  });

  it('names the upstreams of UPSTREAMS_FILE that have no `key`, and only those', async () => {
    const file = files.write(
      'half-keyed.yaml',
      'upstreams:\n  - url: http://keyed.example/v1\n    key: k\n  - url: http://bare.example/v1\n',
    );
    const warnings = keyWarnings(await startLines({ UPSTREAMS_FILE: file, GATEWAY_API_KEYS: 'gk-1' }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('UPSTREAMS_FILE gives no `key` to bare.example:');
    expect(warnings[0]?.msg).not.toContain('keyed.example');
  });

  it('says nothing when every upstream has a key, or when clients’ keys pass on', async () => {
    expect(
      keyWarnings(
        await startLines({ UPSTREAM_API_URL: UPSTREAM, GATEWAY_API_KEYS: 'gk-1', UPSTREAM_API_KEY: 'up' }),
      ),
    ).toEqual([]);
    expect(keyWarnings(await startLines({ UPSTREAM_API_URL: UPSTREAM }))).toEqual([]);
  });
});

describe('a configuration that cannot run', () => {
  it('lists every problem at once, each in words with what it got, then exit 1', async () => {
    const file = files.write(
      'two-problems.yaml',
      `upstreams:\n  - url: ${UPSTREAM}\n    weight: -1\n  - url: ${UPSTREAM}\n    key: \${UNSET_FOR_THIS_TEST}\n`,
    );
    const { code, output } = await runAppToExit('gateway', {
      UPSTREAMS_FILE: file,
      PORT: 'abc',
      NONSTREAM_KEEPALIVE_MS: 'soon',
      REDIS_URL: 'http://redis:6379',
    });
    expect(code).toBe(1);
    const where = `UPSTREAMS_FILE (${file})`;
    expect(output.split('\n').filter((line) => line.trim() !== '')).toEqual([
      'openai-proxy gateway: Invalid configuration:',
      '  PORT: must be a whole number from 0 to 65535, got "abc"',
      '  NONSTREAM_KEEPALIVE_MS: must be a whole number, 0 or more, got "soon"',
      `  ${where}: upstreams[0] (${UPSTREAM}), field "weight": must be greater than 0`,
      `  ${where}: upstreams[1] (${UPSTREAM}), field "key": names the environment variable UNSET_FOR_THIS_TEST, which is not set`,
      expect.stringMatching(/^ {2}REDIS_URL: must be redis:\/\//),
    ]);
  });
});

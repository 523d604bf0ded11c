import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRepoFile, repoPath } from './support/deploy/repo.js';
import { knownEnvVars } from './support/known-env-vars.js';

// Issue 8: README.md and its Chinese translation README.zh-CN.md say the same things: the same
// sections, every variable of the config schema with the same default, the same deploy files.

const READMES = { en: readRepoFile('README.md'), zh: readRepoFile('README.zh-CN.md') };

/** `VARIABLE` → the code spans of its default cell, from the configuration table. */
function configurationTable(readme: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const [, name, defaultCell] of readme.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|/gm)) {
    rows.set(
      name as string,
      [...(defaultCell as string).matchAll(/`([^`]*)`/g)].map((m) => m[1] as string),
    );
  }
  return rows;
}

const headings = (readme: string) => [...readme.matchAll(/^(#{2,3}) /gm)].map((m) => m[1]);

describe('README.md and README.zh-CN.md', () => {
  it('link to each other', () => {
    expect(READMES.en).toContain('[简体中文](README.zh-CN.md)');
    expect(READMES.zh).toContain('[English](README.md)');
  });

  it('have the same sections in the same order', () => {
    expect(headings(READMES.zh)).toEqual(headings(READMES.en));
  });

  it('both list every variable of the config schema, with the same defaults', () => {
    const english = configurationTable(READMES.en);
    const chinese = configurationTable(READMES.zh);
    expect([...english.keys()].sort()).toEqual([...knownEnvVars].sort());
    expect([...chinese.keys()].sort()).toEqual([...knownEnvVars].sort());
    for (const [name, defaults] of english) expect(chinese.get(name), name).toEqual(defaults);
  });

  it('both name every deploy file, and each of those files exists', () => {
    const files = [
      'Dockerfile',
      '.dockerignore',
      'docker-compose.yml',
      'deploy/pm2/ecosystem.config.cjs',
      'deploy/systemd/openai-proxy-gateway.service',
      'deploy/systemd/openai-proxy-worker.service',
      'deploy/systemd/openai-proxy.env.example',
      'deploy/nginx/openai-proxy.conf',
      'deploy/prometheus.yml',
      'deploy/kubernetes/kustomization.yaml',
    ];
    for (const file of files) {
      expect(existsSync(repoPath(file)), file).toBe(true);
      expect(READMES.en, file).toContain(basename(file));
      expect(READMES.zh, file).toContain(basename(file));
    }
  });
});

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readRepoFile, repoPath } from './repo.js';

interface Manifest {
  name: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readRepoFile(join(dir, 'package.json'))) as Manifest;
}

/** Every workspace of the root package.json: package name → folder (relative to the root). */
export function workspaceDirs(): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const pattern of manifest('.').workspaces ?? []) {
    // The root uses `folder/*` and plain folders only.
    const folders = pattern.endsWith('/*')
      ? readdirSync(repoPath(pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => `${pattern.slice(0, -2)}/${entry.name}`)
      : [pattern];
    for (const folder of folders) {
      if (existsSync(repoPath(join(folder, 'package.json')))) dirs.set(manifest(folder).name, folder);
    }
  }
  return dirs;
}

/** The named workspaces and every workspace they depend on (production dependencies only when asked). */
export function workspaceClosure(
  names: readonly string[],
  options: { productionOnly: boolean },
): Set<string> {
  const dirs = workspaceDirs();
  const found = new Set<string>();
  const visit = (name: string) => {
    const dir = dirs.get(name);
    if (dir === undefined || found.has(name)) return;
    found.add(name);
    const own = manifest(dir);
    const deps = { ...own.dependencies, ...(options.productionOnly ? {} : own.devDependencies) };
    for (const dependency of Object.keys(deps)) visit(dependency);
  };
  for (const name of names) visit(name);
  return found;
}

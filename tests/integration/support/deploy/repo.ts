import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: deploy files name paths relative to it. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export function repoPath(relative: string): string {
  return join(REPO_ROOT, relative);
}

export function readRepoFile(relative: string): string {
  return readFileSync(repoPath(relative), 'utf8');
}

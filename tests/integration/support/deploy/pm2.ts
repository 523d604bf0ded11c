import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { repoPath } from './repo.js';

const run = promisify(execFile);
const PM2_BIN = join(dirname(createRequire(import.meta.url).resolve('pm2/package.json')), 'bin', 'pm2');
export const ECOSYSTEM = 'deploy/pm2/ecosystem.config.cjs';

/** One process as `pm2 jlist` describes it. */
export interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { exec_mode: string; status: string; instances?: number };
}

/**
 * A checkout as PM2 users have it, in a temporary folder: the ecosystem file at its place and the
 * built apps (linked), so the file's own paths (cwd, log files) land in that folder, and a PM2
 * daemon of its own (PM2_HOME inside it) that never meets another PM2 on this machine.
 */
export interface Pm2Sandbox {
  readonly root: string;
  pm2(args: string[], env?: Record<string, string>): Promise<string>;
  list(): Promise<Pm2Process[]>;
  /** `pm2 kill` (stops every app, then the daemon) and removes the folder. */
  dispose(): Promise<void>;
}

export function createPm2Sandbox(): Pm2Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'openai-proxy-pm2-'));
  mkdirSync(join(root, 'deploy', 'pm2'), { recursive: true });
  cpSync(repoPath(ECOSYSTEM), join(root, ECOSYSTEM));
  symlinkSync(repoPath('apps'), join(root, 'apps'));
  const baseEnv = {
    PATH: process.env.PATH ?? '',
    HOME: root,
    PM2_HOME: join(root, '.pm2'),
    PM2_DISABLE_VERSION_CHECK: 'true',
  };
  const pm2 = async (args: string[], env: Record<string, string> = {}) => {
    const { stdout } = await run(process.execPath, [PM2_BIN, ...args], {
      cwd: root,
      env: { ...baseEnv, ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  };
  return {
    root,
    pm2,
    async list() {
      return JSON.parse(await pm2(['jlist'])) as Pm2Process[];
    },
    async dispose() {
      await pm2(['kill']).catch(() => '');
      rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}

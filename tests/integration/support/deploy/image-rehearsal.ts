import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, posix, relative } from 'node:path';
import { promisify } from 'node:util';
import type { ParsedDockerfile, Stage, Step } from './dockerfile.js';
import { REPO_ROOT, readRepoFile, repoPath } from './repo.js';

const run = promisify(execFile);
// A CommonJS module whose types declare an ES default export: required, it is the function itself.
const ignore = createRequire(import.meta.url)(
  '@balena/dockerignore',
) as typeof import('@balena/dockerignore').default;

/** What one stage of the Dockerfile leaves behind, laid out in a folder on this machine. */
export interface RehearsedStage {
  name: string;
  /** Stands for the stage's WORKDIR. */
  dir: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  cmd: string[] | undefined;
  healthcheck: string[] | undefined;
}

/** The build context as Docker sends it: the repository less what .dockerignore leaves out. */
export function inBuildContext(): (relativePath: string) => boolean {
  const rules = ignore().add(readRepoFile('.dockerignore'));
  return (relativePath) => relativePath === '' || relativePath === '.' || !rules.ignores(relativePath);
}

/**
 * Carries out the Dockerfile's stages on this machine (there is no Docker engine here), each in a
 * folder of its own standing for its WORKDIR: COPY from the build context (filtered by
 * .dockerignore) or from an earlier stage, RUN of npm/npx commands with the stage's ENV. Other
 * steps that would change files are refused, so a new kind of step fails here instead of passing
 * unchecked. What it cannot stand in for: the base image itself (its Node comes from this machine).
 */
/**
 * npm as a rehearsal on this machine should run it: from the cache the suite's own install filled
 * (a Docker build has its cache mount), no update check, and a registry request that stalls given
 * up and retried within a minute rather than after npm's default five (the hook's whole budget).
 */
const NPM_ON_THIS_MACHINE = {
  npm_config_prefer_offline: 'true',
  npm_config_update_notifier: 'false',
  npm_config_fetch_timeout: '60000',
};

export async function rehearseDockerfile(dockerfile: ParsedDockerfile): Promise<Map<string, RehearsedStage>> {
  const done = new Map<string, RehearsedStage>();
  const context = inBuildContext();
  for (const stage of dockerfile.stages) done.set(stage.name, await rehearseStage(stage, done, context));
  return done;
}

async function rehearseStage(
  stage: Stage,
  earlier: Map<string, RehearsedStage>,
  context: (relativePath: string) => boolean,
): Promise<RehearsedStage> {
  const dir = mkdtempSync(join(tmpdir(), `openai-proxy-${stage.name}-`));
  const result: RehearsedStage = {
    name: stage.name,
    dir,
    workdir: '/',
    env: {},
    user: undefined,
    cmd: undefined,
    healthcheck: undefined,
  };
  for (const step of stage.steps) {
    switch (step.keyword) {
      case 'WORKDIR':
        if (!posix.isAbsolute(step.args)) throw new Error(`WORKDIR ${step.args} is not absolute`);
        result.workdir = step.args;
        break;
      case 'ENV':
        for (const [, key, value] of step.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) {
          result.env[key as string] = value as string;
        }
        break;
      case 'COPY':
        copy(step, result, earlier, context);
        break;
      case 'RUN': {
        // A folder made for the unprivileged user: made here (the chown needs root, and the
        // rehearsal runs as whoever runs the tests).
        const folder = /^mkdir -p (\S+) && chown -R node:node \S+$/.exec(step.args);
        if (folder !== null) {
          mkdirSync(join(dir, folder[1] as string), { recursive: true });
          break;
        }
        if (!/^(npm|npx)\s/.test(step.args))
          throw new Error(`the rehearsal runs npm steps and folder making only: RUN ${step.args}`);
        await run('sh', ['-c', step.args], {
          cwd: dir,
          env: { ...process.env, ...NPM_ON_THIS_MACHINE, ...result.env },
          maxBuffer: 16 * 1024 * 1024,
        });
        break;
      }
      case 'USER':
        result.user = step.args;
        break;
      case 'CMD':
        result.cmd = step.exec;
        break;
      case 'HEALTHCHECK':
        result.healthcheck = step.exec;
        break;
      case 'EXPOSE':
      case 'LABEL':
        break;
      default:
        throw new Error(`the rehearsal does not know ${step.keyword}`);
    }
  }
  return result;
}

function copy(
  step: Step,
  stage: RehearsedStage,
  earlier: Map<string, RehearsedStage>,
  context: (relativePath: string) => boolean,
): void {
  const parts = step.args.split(/\s+/).filter((part) => part !== '');
  const destination = parts.pop();
  if (destination === undefined || parts.length === 0) throw new Error(`COPY ${step.args}: no source`);
  const inside = posix.isAbsolute(destination) ? posix.relative(stage.workdir, destination) : destination;
  if (inside.startsWith('..'))
    throw new Error(`COPY ${step.args}: the rehearsal keeps to WORKDIR ${stage.workdir}`);
  const target = join(stage.dir, inside);
  for (const source of parts) {
    const from =
      step.flags.from === undefined
        ? contextPath(source, context)
        : stagePath(source, step.flags.from, earlier);
    const into =
      destination.endsWith('/') && !statSync(from).isDirectory() ? join(target, basename(from)) : target;
    cpSync(from, into, {
      recursive: true,
      // Within the build context, what .dockerignore names never arrives.
      filter: (path) => step.flags.from !== undefined || context(relative(REPO_ROOT, path)),
    });
  }
}

function contextPath(source: string, context: (relativePath: string) => boolean): string {
  if (!context(posix.normalize(source)))
    throw new Error(`COPY ${source}: .dockerignore leaves it out of the context`);
  return repoPath(source);
}

function stagePath(source: string, stageName: string, earlier: Map<string, RehearsedStage>): string {
  const from = earlier.get(stageName);
  if (from === undefined) throw new Error(`COPY --from=${stageName}: no earlier stage of that name`);
  const inside = posix.relative(from.workdir, source);
  if (inside.startsWith('..')) throw new Error(`COPY --from=${stageName} ${source}: outside ${from.workdir}`);
  const path = join(from.dir, inside);
  if (!existsSync(path)) throw new Error(`COPY --from=${stageName} ${source}: that stage did not produce it`);
  return path;
}

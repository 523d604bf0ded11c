import { parse } from 'yaml';
import { readRepoFile } from './repo.js';

/** The parts of a compose service these tests look at. */
export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  container_name?: string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: (string | number)[];
  profiles?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  stop_grace_period?: string;
  init?: boolean;
  [key: string]: unknown;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `${NAME:+alt}`. */
const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g;

/** Every variable name that `${...}` interpolation reads anywhere in the file's text. */
export function interpolatedNames(text: string): string[] {
  return [...new Set([...text.matchAll(INTERPOLATION)].map((match) => match[1] as string))].sort();
}

/** Compose's interpolation of one value, with `env` standing in for the shell and `.env`. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(INTERPOLATION, (_whole, name: string, operator?: string, argument = '') => {
    const raw = env[name];
    const unset = raw === undefined;
    const empty = unset || raw === '';
    switch (operator) {
      case ':-':
        return empty ? argument : raw;
      case '-':
        return unset ? argument : raw;
      case ':?':
      case '?':
        if (operator === ':?' ? empty : unset) throw new Error(`compose: ${name}: ${argument}`);
        return raw ?? '';
      case ':+':
        return empty ? '' : argument;
      case '+':
        return unset ? '' : argument;
      default:
        return raw ?? '';
    }
  });
}

function interpolateTree(node: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((item) => interpolateTree(item, env));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateTree(value, env)]));
  }
  return node;
}

export const COMPOSE_FILE = 'docker-compose.yml';

/** docker-compose.yml as Compose sees it: YAML merge keys applied, variables interpolated. */
export function loadCompose(env: Record<string, string | undefined>): ComposeFile {
  const document: unknown = parse(readRepoFile(COMPOSE_FILE), { merge: true });
  return interpolateTree(document, env) as ComposeFile;
}

/** A service's `environment` as the strings its container receives. */
export function serviceEnvironment(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [
      key,
      value === null ? '' : String(value),
    ]),
  );
}

/** `40s`, `1m30s`, `500ms` → milliseconds (Compose duration syntax). */
export function durationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * (units[unit as string] ?? Number.NaN);
  }
  return total;
}

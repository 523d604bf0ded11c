import { readRepoFile } from './repo.js';

/** A unit file: section → key → every value given (a key may repeat, e.g. Environment=). */
export type Unit = Record<string, Record<string, string[]>>;

export function parseUnit(relative: string): Unit {
  const unit: Unit = {};
  let section: Record<string, string[]> | undefined;
  // Backslash at the end of a line continues it (systemd.syntax(7)).
  for (const line of readRepoFile(relative).replace(/\\\n/g, ' ').split('\n')) {
    const text = line.trim();
    if (text === '' || text.startsWith('#') || text.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(text);
    if (header?.[1] !== undefined) {
      section = unit[header[1]] ?? {};
      unit[header[1]] = section;
      continue;
    }
    const equals = text.indexOf('=');
    if (section === undefined || equals < 0) throw new Error(`${relative}: cannot read "${text}"`);
    const key = text.slice(0, equals).trim();
    section[key] = [...(section[key] ?? []), text.slice(equals + 1).trim()];
  }
  return unit;
}

/** The one value of a key, or undefined. */
export function value(unit: Unit, section: string, key: string): string | undefined {
  return unit[section]?.[key]?.at(-1);
}

/** systemd time spans used here: `40`, `40s`, `2min`, `1min 30s`. */
export function timeSpanMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)\s*(ms|sec|s|min|m|h)\b/g)) {
    total += Number(amount) * (units[unit as string] ?? Number.NaN);
  }
  return total;
}

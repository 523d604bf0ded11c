/**
 * The models one upstream serves, from UPSTREAMS_FILE's `models`: exact names, and `*` globs
 * (`gpt-*`, `*-instruct`). Exact names are a set lookup; only the globs are tested one by one.
 * Absent (`undefined`), the upstream serves every model.
 */
export class ModelPattern {
  private readonly exact = new Set<string>();
  private readonly globs: RegExp[] = [];

  constructor(patterns: readonly string[]) {
    for (const pattern of patterns) {
      if (pattern.includes('*')) this.globs.push(globToRegExp(pattern));
      else this.exact.add(pattern);
    }
  }

  matches(model: string): boolean {
    if (this.exact.has(model)) return true;
    for (const glob of this.globs) if (glob.test(model)) return true;
    return false;
  }

  /** The names a client can be told about: only when every pattern is an exact name. */
  get listable(): readonly string[] | undefined {
    return this.globs.length === 0 ? [...this.exact] : undefined;
  }
}

/** `*` matches any run of characters (none included); every other character stands for itself. */
function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's');
}

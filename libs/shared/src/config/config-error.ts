/** A configuration that cannot run; the message names each variable and what it expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }

  /** One error for every problem found, each a line `VARIABLE: what it expected, got …`. */
  static of(problems: readonly string[]): ConfigError {
    return new ConfigError(`Invalid configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  }

  /** Its problems, one a line (the message less its heading). */
  get problems(): string[] {
    return this.message
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .filter((line) => line !== '');
  }
}

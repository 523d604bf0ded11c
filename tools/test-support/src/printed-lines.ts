/** What a text matches: a substring, or a pattern. */
export type LineMatcher = string | RegExp;

const matches = (matcher: LineMatcher, line: string) =>
  typeof matcher === 'string' ? line.includes(matcher) : matcher.test(line);

/**
 * The lines something printed (a child process on its pipes, or an in-process logger), and a way
 * to wait for one. Chunks are joined before splitting, so a line cut across two pipe reads stays
 * one line.
 */
export class PrintedLines {
  /** Every non-empty line so far, oldest first (only the last `keep` when capped). */
  readonly lines: string[] = [];
  private count = 0;
  private endedBecause: string | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    /** Printed by whom, for error messages. */
    private readonly source: string,
    /** A long run (a benchmark) keeps only its last lines; tests keep them all. */
    private readonly keep = Number.POSITIVE_INFINITY,
  ) {}

  /** Lines printed since the start, including those a cap dropped. */
  get printed(): number {
    return this.count;
  }

  /** A sink for one stream of text: it keeps its own unfinished last line. */
  sink(): { write(chunk: string): void; flush(): void } {
    let partial = '';
    return {
      write: (chunk) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        this.add(parts);
      },
      flush: () => {
        this.add([partial]);
        partial = '';
      },
    };
  }

  /** No more lines will come (the process exited): waits still pending fail at once. */
  end(because: string): void {
    this.endedBecause = because;
    this.notify();
  }

  /** The first line so far, or to come, that matches; fails after `timeoutMs` or once ended. */
  waitFor(matcher: LineMatcher, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((candidate) => matches(matcher, candidate));
        if (line !== undefined) settle(() => resolve(line));
        else if (this.endedBecause !== undefined)
          settle(() => reject(this.failure(`${this.endedBecause} before printing ${String(matcher)}`)));
      };
      const timer = setTimeout(
        () => settle(() => reject(this.failure(`did not print ${String(matcher)} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        outcome();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** An error naming the source and showing what it printed. */
  failure(what: string): Error {
    return new Error(`${this.source} ${what}:\n${this.lines.join('\n')}`);
  }

  private add(lines: string[]): void {
    for (const line of lines) {
      if (line.trim() === '') continue;
      this.count += 1;
      this.lines.push(line);
      if (this.lines.length > this.keep) this.lines.shift();
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

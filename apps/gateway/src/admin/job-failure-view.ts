/**
 * An absolute path's directories: `/app/apps/worker/dist/`, `file:///work/main/…/`, `C:\srv\…\`.
 * A path starts a word (after a space, a bracket, a quote or `=`), so URLs and Node's own
 * `node:internal/…` frames are left as they are.
 */
const DIRECTORIES =
  /(?<=^|[\s(['"=])(?:file:\/\/)?(?:[A-Za-z]:)?(?:[\\/][^\\/\s()'"`]+)+[\\/](?=[^\\/\s()'"`])/g;

/**
 * A failure's text as the queue dashboard shows it: every absolute path cut to its file name
 * (`at fold (/app/apps/worker/dist/fold.js:12:3)` → `at fold (fold.js:12:3)`). The frames still say
 * where it broke; the server's layout (install path, user names, mounted volumes) is not the
 * reader's business, and the worker's own log keeps the whole stack.
 */
export function withoutDirectories(text: string): string {
  return text.replace(DIRECTORIES, '');
}

/** The two fields of a failed BullMQ job that hold an error's words. */
export interface FailedJobFields {
  failedReason: string;
  stacktrace: string[] | null;
}

/** Rewrites a fetched job's failure in place, for the dashboard only: Redis keeps the original. */
export function showFailureWithoutDirectories(job: FailedJobFields): void {
  if (typeof job.failedReason === 'string') job.failedReason = withoutDirectories(job.failedReason);
  if (Array.isArray(job.stacktrace)) job.stacktrace = job.stacktrace.map((line) => withoutDirectories(line));
}

import cluster from 'node:cluster';

/** The variables that say where a server listens, as the operator spells them. */
export interface ListenVariables {
  port: string;
  host: string;
}

/** What Node attaches to an error from `listen` (or `bind`, in a cluster child, or the host lookup). */
interface ListenError {
  code: string;
  syscall: string;
  address?: string;
  port?: number;
  hostname?: string;
}

const LISTEN_SYSCALLS = new Set(['listen', 'bind', 'getaddrinfo']);

function isListenError(error: unknown): error is ListenError {
  if (typeof error !== 'object' || error === null) return false;
  const { code, syscall } = error as Record<string, unknown>;
  return typeof code === 'string' && typeof syscall === 'string' && LISTEN_SYSCALLS.has(syscall);
}

function hostAndPort(address: string | undefined, port: number | undefined): string {
  const host = address?.includes(':') ? `[${address}]` : (address ?? '');
  return port === undefined ? host : `${host}:${port}`;
}

/**
 * The one line an operator needs when a server could not listen: which variable to change and
 * the address it asked for. Undefined when the error is not a listen error (that is a bug, and its
 * stack trace is the useful part).
 */
export function describeListenFailure(variables: ListenVariables, error: unknown): string | undefined {
  if (!isListenError(error)) return undefined;
  if (error.syscall === 'getaddrinfo') {
    return `${variables.host} ${error.hostname ?? ''} does not resolve to an address (${error.code})`;
  }
  const where = hostAndPort(error.address, error.port);
  switch (error.code) {
    case 'EADDRINUSE':
      return `${variables.port} ${where} is already in use`;
    case 'EACCES':
      return `${variables.port} ${where} needs privileges this process does not have (EACCES)`;
    case 'EADDRNOTAVAIL':
      return `${variables.host} ${error.address ?? ''} is not an address of this machine (EADDRNOTAVAIL)`;
    default:
      return `${variables.port} ${where} could not be listened on (${error.code})`;
  }
}

const STARTUP_FAILURE = 'openai-proxy:startup-failure';
/** How long a cluster child that reported a start-up failure waits for its primary to stop it. */
const PRIMARY_STOPS_CHILD_MS = 10_000;

/** What a cluster child sends its primary instead of printing: the primary prints it once for all. */
export interface StartupFailureMessage {
  type: typeof STARTUP_FAILURE;
  line: string;
}

export function isStartupFailureMessage(message: unknown): message is StartupFailureMessage {
  if (typeof message !== 'object' || message === null) return false;
  const { type, line } = message as Record<string, unknown>;
  return type === STARTUP_FAILURE && typeof line === 'string';
}

function printAndExit(line: string): void {
  process.stderr.write(`${line}\n`);
  process.exit(1);
}

/**
 * Ends a process whose server could not listen with one line on stderr and exit code 1. A cluster
 * child hands the line to its primary instead: every child hits the same error, and the primary
 * prints it once and stops instead of replacing children that can never start. Errors that are
 * not listen errors are rethrown. Never resolves: the process ends.
 */
export function exitOnListenFailure(app: string, variables: ListenVariables, error: unknown): Promise<never> {
  const reason = describeListenFailure(variables, error);
  if (reason === undefined) throw error;
  const line = `openai-proxy ${app}: ${reason}`;
  return new Promise<never>(() => {
    if (!cluster.isWorker || process.send === undefined) {
      printAndExit(line);
      return;
    }
    const message: StartupFailureMessage = { type: STARTUP_FAILURE, line };
    process.send(message, undefined, {}, (sendError: Error | null) => {
      // No primary to tell (it is gone): say it here.
      if (sendError) {
        printAndExit(line);
        return;
      }
      // The primary now stops every child. Exiting first would race the message: a primary that
      // saw this exit before reading the message would take it for a crash and fork a replacement.
      setTimeout(() => process.exit(1), PRIMARY_STOPS_CHILD_MS);
    });
  });
}

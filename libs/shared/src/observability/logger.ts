import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino removes from every log line, whatever the level. Keys travel in headers, job data
 * and configuration; none of them may reach a log. Every path is spelled out: a wildcard
 * (`*.auth`) makes pino walk every key of every line, request lines included, to look for it.
 * A log call that nests a secret elsewhere must add its path here; tests search captured logs
 * for a client's key, so a call that leaks one fails there.
 */
export const redactedPaths = [
  'authorization',
  'cookie',
  'auth',
  'apiKey',
  'api_key',
  'clientCredential',
  'credential',
  'headers.authorization',
  'headers.cookie',
  'headers["api-key"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'request.credential',
  'data.request.credential',
  'job.data.request.credential',
  // ioredis errors carry the failed command's arguments, which can hold a job's data.
  'err.command.args',
  'GATEWAY_API_KEYS',
  'UPSTREAM_API_KEY',
  'config.GATEWAY_API_KEYS',
  'config.UPSTREAM_API_KEY',
];

export interface LoggerOptions {
  name: string;
  level: string;
  pretty?: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    name: options.name,
    level: options.level,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    base: { pid: process.pid, app: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}

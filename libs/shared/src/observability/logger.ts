import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino removes from every log line. Keys travel in headers and job data; none of them
 * may reach a log, whatever the level.
 */
export const redactedPaths = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'headers["api-key"]',
  'auth',
  'apiKey',
  '*.authorization',
  '*.auth',
  '*.apiKey',
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

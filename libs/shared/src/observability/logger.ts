import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino removes from every log line, whatever the level. Keys travel in headers, job data
 * and configuration; none of them may reach a log. The wildcard forms catch the same fields one
 * level down (`{ request: { headers } }`, `{ job: { auth } }`). Tests search captured logs
 * for a client's key, so a new log call that leaks one fails there.
 */
export const redactedPaths = [
  'authorization',
  'cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["api-key"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["api-key"]',
  '*.headers["x-api-key"]',
  'auth',
  'apiKey',
  'api_key',
  'clientAuthorization',
  'data.auth',
  '*.data.auth',
  'GATEWAY_API_KEYS',
  'UPSTREAM_API_KEY',
  '*.authorization',
  '*.auth',
  '*.apiKey',
  '*.api_key',
  '*.clientAuthorization',
  '*.GATEWAY_API_KEYS',
  '*.UPSTREAM_API_KEY',
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

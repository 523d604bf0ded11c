import { startMockUpstream } from './server.js';
import type { MockBehavior, MockRateLimit } from './types.js';

function intFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const port = intFromEnv('MOCK_PORT') ?? 8787;
const host = process.env.MOCK_HOST || '127.0.0.1';
const words = intFromEnv('MOCK_WORDS');
const behavior: MockBehavior = { kind: 'echo', chunkDelayMs: intFromEnv('MOCK_CHUNK_DELAY_MS') ?? 0 };
if (words !== undefined && words > 0) behavior.words = words;

// Sent as the `x-mock-upstream` header: tells apart two mocks behind one proxy.
const name = process.env.MOCK_NAME || 'mock';

// Requests per second this mock admits on its streaming routes before it answers 429; unset or 0: no limit.
const rps = intFromEnv('MOCK_RATE_LIMIT_RPS');
const rateLimit: MockRateLimit | undefined =
  rps !== undefined && rps > 0 ? { requests: rps, windowMs: 1000 } : undefined;

const mock = await startMockUpstream({ port, host, name, defaultBehavior: behavior, rateLimit });
process.stdout.write(`mock upstream listening on ${mock.url}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  mock.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

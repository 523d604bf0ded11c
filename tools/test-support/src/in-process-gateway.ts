import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadGatewayConfig, startGateway } from '@openai-proxy/gateway';
import { createLogger } from '@openai-proxy/shared';
import { type LineMatcher, PrintedLines } from './printed-lines.js';

/**
 * A gateway running in the test's own process on a port the OS picks: what HTTP behaviour
 * (validation, headers, limits) needs, without the start-up of a Node process.
 */
export interface InProcessGateway {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Every log line so far: the JSON the process would have printed on stdout. */
  readonly output: readonly string[];
  /** The first log line that contains `text` (or matches it). */
  waitForOutput(text: LineMatcher, timeoutMs?: number): Promise<string>;
  /** Closes it as SIGTERM would: in-flight requests finish within SHUTDOWN_GRACE_MS. */
  stop(): Promise<void>;
}

/** Starts a gateway from `env` as main.ts would, with defaults matching `startApp`. */
export async function startInProcessGateway(env: Record<string, string>): Promise<InProcessGateway> {
  const config = loadGatewayConfig({
    LOG_LEVEL: 'info',
    STATS_INTERVAL_SECONDS: '0',
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
  });
  const lines = new PrintedLines('in-process gateway');
  const sink = lines.sink();
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      sink.write(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ name: 'gateway', level: config.LOG_LEVEL, destination });
  const gateway = await startGateway(config, logger);
  return {
    url: gateway.url,
    port: (gateway.server.address() as AddressInfo).port,
    server: gateway.server,
    output: lines.lines,
    waitForOutput: (text, timeoutMs) => lines.waitFor(text, timeoutMs),
    stop: () => gateway.close(),
  };
}

import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  body: string;
  connections: number;
  /** Run for this long… */
  durationSeconds?: number;
  /** …or until this many requests are answered. */
  amount?: number;
  /** Seconds one request may take before it counts as a timeout error. */
  timeoutSeconds: number;
  /** Says whether a 2xx body is a correct answer; anything else is counted as an error. */
  verify(body: string): boolean;
}

export interface LoadResult {
  /** Requests answered with 2xx and a body that passed `verify`. */
  ok: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  socketErrors: number;
  /** 2xx answers whose body failed the check. */
  badBodies: number;
  errors: number;
  seconds: number;
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

/**
 * Drives `spec` with autocannon's programmatic API. Latencies are kept at full (sub-millisecond)
 * precision here: autocannon's own histogram rounds to whole milliseconds, too coarse for the
 * "≤ 2 ms added at concurrency 1" target.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let ok = 0;
  let badBodies = 0;
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
        body: spec.body,
        connections: spec.connections,
        timeout: spec.timeoutSeconds,
        ...(spec.amount === undefined ? { duration: spec.durationSeconds ?? 10 } : { amount: spec.amount }),
        // Status and body together (autocannon's verifyBody also runs on non-2xx answers, which
        // would count a failed request twice): a 2xx whose body fails the check is an error too.
        requests: [
          {
            onResponse: (status: number, body: string) => {
              if (status < 200 || status >= 300) return;
              if (spec.verify(body)) ok += 1;
              else badBodies += 1;
            },
          },
        ],
      },
      (error: unknown, done: autocannon.Result) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count] = responseTime;
      count += 1;
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const sorted = latencies.subarray(0, count).sort();
  const errors = result.non2xx + result.errors + badBodies;
  return {
    ok,
    requestsPerSecond: ok / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: count > 0 ? sorted[count - 1]! : Number.NaN,
    non2xx: result.non2xx,
    socketErrors: result.errors,
    badBodies,
    errors,
    seconds,
  };
}

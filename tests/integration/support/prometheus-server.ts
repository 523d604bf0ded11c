import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type SpawnedProcess, spawnProcess, waitUntil } from '@openai-proxy/test-support';
import { stringify } from 'yaml';

/** One sample of an instant query: its labels and its value (`NaN` kept as NaN). */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** A private Prometheus server (Debian's `prometheus`; .ci/run installs it) with its own data folder. */
export interface TestPrometheus {
  readonly url: string;
  readonly process: SpawnedProcess;
  /** An instant query through the HTTP API; rejects with Prometheus's own error (a parse error, say). */
  query(expr: string): Promise<PromSample[]>;
  /** Every metric name Prometheus holds (what the scrapes brought). */
  metricNames(): Promise<Set<string>>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
  errorType?: string;
}

/** Starts `prometheus` on `config` (an object, written as YAML) and waits until it is ready. */
export async function startPrometheus(binary: string, config: unknown): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'openai-proxy-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawnProcess(
    'prometheus',
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const answer = (await response.json()) as ApiAnswer<T>;
    if (answer.status !== 'success') throw new Error(`${answer.errorType ?? 'error'}: ${answer.error ?? ''}`);
    return answer.data;
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    await waitUntil('readiness', server, async () => (await fetch(`${url}/-/ready`)).status === 200);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    process: server,
    async query(expr) {
      const data = await api<{
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
      return data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
    },
    async metricNames() {
      return new Set(await api<string[]>('/api/v1/label/__name__/values'));
    },
    stop,
  };
}

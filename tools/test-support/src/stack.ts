import { type MockUpstream, startMockUpstream } from '@openai-proxy/mock-upstream';
import { type AppProcess, startApp } from './app-process.js';
import { type InProcessGateway, startInProcessGateway } from './in-process-gateway.js';
import type { LineMatcher } from './printed-lines.js';
import { type RedisOptions, startRedis, type TestRedis } from './redis-server.js';

type Env = Record<string, string>;

export interface GatewaySpec {
  /**
   * `in-process`: in the test's own process on port 0, for HTTP behaviour. `process`: as
   * operators run it, for what needs a process (signals, stdout, its pid).
   */
  readonly run: 'in-process' | 'process';
  /** Leave REDIS_URL out though the stack has Redis: a standalone gateway. */
  readonly standalone?: boolean;
  readonly env?: Env;
  /** For a process: the line that says it is ready (see `startApp`). */
  readonly waitFor?: LineMatcher | null;
}

export interface WorkerSpec {
  readonly env?: Env;
  /** The line that says it is ready (see `startApp`). */
  readonly waitFor?: LineMatcher | null;
}

export type GatewayOf<Spec extends GatewaySpec> = Spec['run'] extends 'process'
  ? AppProcess
  : InProcessGateway;

export interface StackOptions<
  Upstream extends string,
  Gateways extends Record<string, GatewaySpec>,
  Worker extends string,
> {
  /** A private redis-server; its REDIS_URL goes to every worker and non-standalone gateway. */
  readonly redis?: boolean | RedisOptions;
  /** Mock upstreams by name; UPSTREAM_API_URL lists them all, in this order. */
  readonly upstreams?: readonly Upstream[];
  /** Given to every gateway and worker after REDIS_URL and UPSTREAM_API_URL, so it may replace them. */
  readonly env?: Env;
  readonly gateways?: Gateways;
  readonly workers?: Readonly<Record<Worker, WorkerSpec>>;
}

/** What `startStack` started; `stop()` closes all of it, gateways first and Redis last. */
export interface Stack<
  Upstream extends string = never,
  Gateways extends Record<string, GatewaySpec> = Record<never, GatewaySpec>,
  Worker extends string = never,
> {
  /** The stack's Redis; throws when it was started without one. */
  readonly redis: TestRedis;
  readonly upstreams: Readonly<Record<Upstream, MockUpstream>>;
  readonly gateways: { readonly [Name in keyof Gateways]: GatewayOf<Gateways[Name]> };
  readonly workers: Readonly<Record<Worker, AppProcess>>;
  /** The environment a gateway gets from the stack, with `extra` on top. */
  env(extra?: Env, options?: { standalone?: boolean }): Env;
  /** Starts one more gateway (a test's own configuration); `stop()` closes it too. */
  addGateway<const Spec extends GatewaySpec>(spec: Spec): Promise<GatewayOf<Spec>>;
  addWorker(spec?: WorkerSpec): Promise<AppProcess>;
  stop(): Promise<void>;
}

/** Starts what a test asks for: Redis, mock upstreams, then gateways and workers at once. */
export async function startStack<
  const Upstream extends string = never,
  const Gateways extends Record<string, GatewaySpec> = Record<never, GatewaySpec>,
  const Worker extends string = never,
>(options: StackOptions<Upstream, Gateways, Worker>): Promise<Stack<Upstream, Gateways, Worker>> {
  let redis: TestRedis | undefined;
  const names = options.upstreams ?? [];
  const upstreams = new Map<string, MockUpstream>();
  const gateways: Array<AppProcess | InProcessGateway> = [];
  const workers: AppProcess[] = [];

  let stopping: Promise<void> | undefined;
  // Gateways hold the clients' requests, workers the jobs behind them; Redis and the upstreams
  // go last so that neither sees its callers fail while they shut down.
  const stop = () => {
    stopping ??= (async () => {
      await Promise.allSettled(gateways.map((gateway) => gateway.stop()));
      await Promise.allSettled(workers.map((worker) => worker.stop()));
      await Promise.allSettled([
        ...[...upstreams.values()].map((upstream) => upstream.close()),
        redis?.stop(),
      ]);
    })();
    return stopping;
  };

  const env = (extra: Env = {}, { standalone = false } = {}): Env => ({
    ...(names.length > 0
      ? { UPSTREAM_API_URL: names.map((name) => upstreams.get(name)?.chatUrl).join(',') }
      : {}),
    ...(redis !== undefined && !standalone ? { REDIS_URL: redis.url } : {}),
    ...options.env,
    ...extra,
  });
  const addGateway = async <const Spec extends GatewaySpec>(spec: Spec): Promise<GatewayOf<Spec>> => {
    const gatewayEnv = env(spec.env, { standalone: spec.standalone ?? false });
    const gateway =
      spec.run === 'process'
        ? await startApp('gateway', gatewayEnv, { waitFor: spec.waitFor })
        : await startInProcessGateway(gatewayEnv);
    gateways.push(gateway);
    return gateway as GatewayOf<Spec>;
  };
  const addWorker = async (spec: WorkerSpec = {}): Promise<AppProcess> => {
    const worker = await startApp('worker', env(spec.env), { waitFor: spec.waitFor });
    workers.push(worker);
    return worker;
  };

  try {
    await allStarted([
      options.redis
        ? startRedis(options.redis === true ? {} : options.redis).then((started) => {
            redis = started;
          })
        : Promise.resolve(),
      ...names.map((name) => startMockUpstream({ name }).then((started) => upstreams.set(name, started))),
    ]);
    const gatewayStarts = Object.entries<GatewaySpec>(options.gateways ?? {}).map(([name, spec]) =>
      addGateway(spec).then((gateway) => [name, gateway] as const),
    );
    const workerStarts = Object.entries<WorkerSpec>(options.workers ?? {}).map(([name, spec]) =>
      addWorker(spec).then((worker) => [name, worker] as const),
    );
    await allStarted([...gatewayStarts, ...workerStarts]);
    return {
      get redis() {
        if (redis === undefined) throw new Error('this stack was started without Redis');
        return redis;
      },
      upstreams: Object.fromEntries(upstreams),
      gateways: Object.fromEntries(await Promise.all(gatewayStarts)),
      workers: Object.fromEntries(await Promise.all(workerStarts)),
      env,
      addGateway,
      addWorker,
      stop,
    } as Stack<Upstream, Gateways, Worker>;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Waits for every start, failed or not, before failing with the first error: `stop()` must not
 * run while a part is still starting, or that part would outlive the stack.
 */
async function allStarted(starts: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(starts)).find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
}

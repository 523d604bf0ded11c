import type { IncomingMessage, ServerResponse } from 'node:http';
import { runBehavior } from './behaviors.js';
import { type CompletionKind, readCompletionRequest } from './completion-request.js';
import { INVALID_JSON_BODY, notFoundBody, STREAM_REQUIRED_BODY } from './errors.js';
import type { RateLimitPolicy } from './rate-limit.js';
import { rateLimitHeaders, sendRateLimited } from './rate-limit-response.js';
import { type ParsedBody, parseBody, readBody } from './request-body.js';
import type { RequestLog } from './request-log.js';
import type { MockBehavior, MockRequestRecord } from './types.js';

export interface RouteDeps {
  log: RequestLog;
  name: string;
  nextBehavior(): MockBehavior;
  nextId(kind: CompletionKind): string;
  /** True once close() started: connections it destroys are not client aborts. */
  isClosing(): boolean;
  /** The `rateLimit` option; absent, every call is admitted without limit headers. */
  rateLimit?: RateLimitPolicy;
}

const MODELS_BODY = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: [{ id: 'mock-model', object: 'model', created: 0, owned_by: 'mock' }],
  }),
);

function sendJson(res: ServerResponse, status: number, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function embeddingsBody(body: unknown): string {
  const model =
    typeof body === 'object' && body !== null && 'model' in body && typeof body.model === 'string'
      ? body.model
      : 'mock-model';
  return JSON.stringify({
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }],
    model,
    usage: { prompt_tokens: 1, total_tokens: 1 },
  });
}

function noop(): void {}

/** The streaming routes, each answered in its own API's stream format. */
const COMPLETION_PATHS: ReadonlyMap<string, CompletionKind> = new Map([
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'legacy'],
  ['/v1/responses', 'responses'],
  ['/v1/messages', 'messages'],
]);

/**
 * Counts a streaming call against the limit before anything else looks at it, as a provider's edge
 * would. Admitted, the limit headers are set for whatever answer follows; refused, it is answered
 * with 429 here, before a queued behaviour is taken, and false comes back.
 */
function admitCall(kind: CompletionKind, res: ServerResponse, deps: RouteDeps): boolean {
  const policy = deps.rateLimit;
  if (!policy) return true;
  const decision = policy.limiter.take(Date.now());
  const headers = rateLimitHeaders(policy.headers, decision);
  if (!decision.admitted) {
    deps.log.countRateLimited();
    sendRateLimited(res, kind, decision, headers, policy.retryAfter);
    return false;
  }
  deps.log.countAdmitted(decision.admittedInWindow);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  return true;
}

function handleCompletion(
  kind: CompletionKind,
  parsed: ParsedBody,
  res: ServerResponse,
  deps: RouteDeps,
  signal: AbortSignal,
  markDropped: () => void,
): void {
  if (!parsed.ok) {
    sendJson(res, 400, INVALID_JSON_BODY);
    return;
  }
  const request = readCompletionRequest(kind, parsed.value);
  if (!request.stream) {
    sendJson(res, 400, STREAM_REQUIRED_BODY);
    return;
  }
  // A request may name its own behavior (`mock_behavior` in its body): many requests in flight at
  // once, each answered its own way, whatever order they arrive in (batch tests).
  const behavior = behaviorInBody(parsed.value) ?? deps.nextBehavior();
  const ctx = {
    res,
    request,
    id: deps.nextId(kind),
    created: Math.floor(Date.now() / 1000),
    signal,
    markDropped,
  };
  runBehavior(ctx, behavior).catch(() => res.destroy());
}

/** Records the request, then routes it. Never throws. */
export async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  deps: RouteDeps,
): Promise<void> {
  const { log } = deps;
  const method = req.method ?? 'GET';
  const path = pathOf(req.url);
  const controller = new AbortController();
  let record: MockRequestRecord | undefined;
  let dropped = false;

  res.setHeader('x-mock-upstream', deps.name);
  // The counters themselves, for a process that runs the mock as a separate program (the bench
  // watches how many streams are open); not recorded, so reading them changes nothing.
  if (method === 'GET' && path === '/mock/stats') {
    sendJson(res, 200, JSON.stringify(log.stats));
    return;
  }
  res.on('error', noop);
  res.on('finish', () => {
    if (record) log.markCompleted(record);
  });
  res.on('close', () => {
    controller.abort();
    if (record && !res.writableFinished && !dropped && !deps.isClosing()) log.markAborted(record);
  });

  const raw = await readBody(req);
  const parsed: ParsedBody = raw === undefined ? { ok: true, value: undefined } : parseBody(raw);
  record = {
    method,
    path,
    headers: { ...req.headers },
    body: parsed.ok ? parsed.value : parsed.raw,
    aborted: false,
    completed: false,
  };
  log.add(record);
  if (raw === undefined || controller.signal.aborted) {
    if (!deps.isClosing()) log.markAborted(record);
    return;
  }

  const markDropped = (): void => {
    dropped = true;
  };
  const completionKind = method === 'POST' ? COMPLETION_PATHS.get(path) : undefined;
  if (completionKind !== undefined) {
    if (!admitCall(completionKind, res, deps)) return;
    handleCompletion(completionKind, parsed, res, deps, controller.signal, markDropped);
  } else if (method === 'GET' && path === '/v1/models') {
    sendJson(res, 200, MODELS_BODY);
  } else if (method === 'POST' && path === '/v1/embeddings') {
    if (parsed.ok) sendJson(res, 200, embeddingsBody(parsed.value));
    else sendJson(res, 400, INVALID_JSON_BODY);
  } else {
    sendJson(res, 404, notFoundBody(method, path));
  }
}

const BODY_BEHAVIORS = new Set(['echo', 'status', 'drop', 'hang']);

/** The behavior a request names in its body's `mock_behavior` (echo, status, drop or hang), if any. */
function behaviorInBody(body: unknown): MockBehavior | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const named = (body as { mock_behavior?: unknown }).mock_behavior;
  if (typeof named !== 'object' || named === null) return undefined;
  const kind = (named as { kind?: unknown }).kind;
  return typeof kind === 'string' && BODY_BEHAVIORS.has(kind) ? (named as MockBehavior) : undefined;
}

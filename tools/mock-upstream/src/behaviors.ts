import type { ServerResponse } from 'node:http';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { CompletionRequest } from './completion-request.js';
import { buildEchoEvents } from './echo-stream.js';
import { statusErrorBody } from './errors.js';
import { runReplay } from './replay.js';
import { SSE_HEADERS } from './sse.js';
import { endWithAll, writePieces } from './stream-writer.js';
import type { MockBehavior } from './types.js';

export interface BehaviorContext {
  res: ServerResponse;
  request: CompletionRequest;
  id: string;
  created: number;
  /** Aborted when the response closes. */
  signal: AbortSignal;
  /** Called before the mock itself cuts the connection, so it is not counted as a client abort. */
  markDropped(): void;
}

async function runEcho(
  ctx: BehaviorContext,
  behavior: Extract<MockBehavior, { kind: 'echo' }>,
): Promise<void> {
  const { res } = ctx;
  const events = buildEchoEvents(ctx.request, { id: ctx.id, created: ctx.created, words: behavior.words });
  res.writeHead(200, SSE_HEADERS);
  const delayMs = behavior.chunkDelayMs ?? 0;
  if (delayMs <= 0) {
    endWithAll(res, events);
    return;
  }
  res.flushHeaders();
  if (await writePieces(res, events, { delayMs, signal: ctx.signal })) res.end();
}

async function runDrop(ctx: BehaviorContext, afterChunks: number): Promise<void> {
  const { res } = ctx;
  const events = buildEchoEvents(ctx.request, { id: ctx.id, created: ctx.created });
  const sent = events.slice(0, Math.max(0, Math.min(afterChunks, events.length - 1)));
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  ctx.markDropped();
  if (sent.length > 0) {
    await new Promise<void>((resolve) => res.write(sent.join(''), () => resolve()));
  } else {
    await nextMacrotask();
  }
  res.destroy();
}

function runStatus(ctx: BehaviorContext, behavior: Extract<MockBehavior, { kind: 'status' }>): void {
  const { res } = ctx;
  res.setHeader('content-type', 'application/json');
  for (const [name, value] of Object.entries(behavior.headers ?? {})) res.setHeader(name, value);
  res.statusCode = behavior.status;
  res.end(behavior.body ?? statusErrorBody(behavior.status));
}

function runHang(ctx: BehaviorContext, afterHeaders: boolean): void {
  if (!afterHeaders) return;
  ctx.res.writeHead(200, SSE_HEADERS);
  ctx.res.flushHeaders();
}

/** Answers one streaming completion request (already validated as `stream: true`). */
export async function runBehavior(ctx: BehaviorContext, behavior: MockBehavior): Promise<void> {
  switch (behavior.kind) {
    case 'echo':
      return runEcho(ctx, behavior);
    case 'replay':
      return runReplay(ctx.res, behavior, ctx.signal);
    case 'status':
      return runStatus(ctx, behavior);
    case 'hang':
      return runHang(ctx, behavior.afterHeaders === true);
    case 'drop':
      return runDrop(ctx, behavior.afterChunks);
  }
}

import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { chatBody } from '../http.js';
import { classifyAnswer, type Outcome } from './outcome.js';

export interface LoadPlan {
  total: number;
  concurrency: number;
  /** The gateway base URL request `index` goes to; a test changes it when it kills a gateway, as a balancer would. */
  target(index: number): string;
  /**
   * How long a client waits. Longer than the gateway's REQUEST_TIMEOUT_MS, so a request still
   * unanswered then has outlived its deadline: lost.
   */
  clientTimeoutMs: number;
  /** Milliseconds after which request `index` is abandoned by its client on purpose (the client-gone path). */
  abandonAfterMs?(index: number): number | undefined;
  /** Words in each prompt after its id: the echo upstream sends one chunk per word, so more words, longer jobs. */
  words?: number;
  /**
   * A client refused at the door waits this long before its next request (default 100 ms), as a
   * client honouring Retry-After would in spirit; without it the free lanes would spend the whole
   * load on refusals in the first instant of an outage.
   */
  pauseAfterRefusalMs?: number;
  /**
   * Request `index` starts no earlier than `index × arrivalEveryMs` after the load began: an
   * open stream of clients that keeps arriving while earlier ones wait (an outage meets new
   * clients, not only the ones already in flight). Unset: each lane sends as soon as it is free.
   */
  arrivalEveryMs?: number;
}

export interface RequestResult {
  index: number;
  target: string;
  /** Epoch ms. */
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
}

export interface LoadRun {
  /** Requests sent so far. */
  readonly sent: () => number;
  /** Results so far, in the order they ended. */
  readonly results: RequestResult[];
  readonly done: Promise<RequestResult[]>;
}

function promptFor(run: string, index: number, words: number): string {
  const filler = Array.from({ length: words }, (_, i) => `w${i}`).join(' ');
  return `${run}-${index} ${filler}`.trim();
}

interface RawAnswer {
  status: number;
  text: string;
}

/**
 * One POST over node:http rather than fetch: 10,000 requests cost the test process about a
 * third of fetch's CPU (measured: 2.3 s against 6.5 s), CPU the processes under test need more.
 */
function post(url: URL, body: string, agent: Agent, signal: AbortSignal): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        signal,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
        // The gateway died after its status line: the body never ends.
        res.on('close', () => {
          if (!res.complete) reject(Object.assign(new Error('answer cut short'), { code: 'ECONNRESET' }));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function oneRequest(plan: LoadPlan, agent: Agent, run: string, index: number): Promise<RequestResult> {
  const target = plan.target(index);
  const prompt = promptFor(run, index, plan.words ?? 8);
  const startedAt = Date.now();
  const timeout = AbortSignal.timeout(plan.clientTimeoutMs);
  const abandonMs = plan.abandonAfterMs?.(index);
  const abandon = abandonMs === undefined ? undefined : AbortSignal.timeout(abandonMs);
  const signal = abandon === undefined ? timeout : AbortSignal.any([timeout, abandon]);
  let outcome: Outcome;
  try {
    const url = new URL('/v1/chat/completions', target);
    const answer = await post(url, JSON.stringify(chatBody(prompt)), agent, signal);
    outcome = classifyAnswer(answer.status, answer.text, `echo: ${prompt}`);
  } catch (error) {
    if (abandon?.aborted) outcome = { kind: 'left' };
    else if (timeout.aborted)
      outcome = { kind: 'lost', reason: `no answer within ${plan.clientTimeoutMs} ms` };
    else outcome = { kind: 'cut', reason: describe(error) };
  }
  return { index, target, startedAt, endedAt: Date.now(), outcome };
}

/** A socket error's code (ECONNRESET, …), else its message. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' ? code : error.message;
  }
  return String(error);
}

/**
 * Sends `plan.total` non-stream requests, at most `plan.concurrency` at a time, and sorts each
 * answer. Every prompt is unique, so an answer delivered to the wrong request shows as lost.
 */
export function startLoad(plan: LoadPlan): LoadRun {
  const run = randomUUID().slice(0, 8);
  const agent = new Agent({ keepAlive: true });
  const results: RequestResult[] = [];
  let next = 0;
  const began = Date.now();
  const lane = async () => {
    while (next < plan.total) {
      const index = next;
      next += 1;
      if (plan.arrivalEveryMs !== undefined) {
        const wait = began + index * plan.arrivalEveryMs - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const result = await oneRequest(plan, agent, run, index);
      results.push(result);
      if (result.outcome.kind === 'refused') await sleep(plan.pauseAfterRefusalMs ?? 100);
    }
  };
  const lanes = Array.from({ length: Math.min(plan.concurrency, plan.total) }, lane);
  const done = Promise.all(lanes).then(() => {
    agent.destroy();
    return results.slice().sort((a, b) => a.index - b.index);
  });
  return { sent: () => next, results, done };
}

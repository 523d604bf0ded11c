import type { ErrorDialect } from '@openai-proxy/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CompletedAnswer } from '../src/completion/non-stream-completer.js';
import { Waiters } from '../src/completion/waiters.js';

/** Two dialects a waiter can carry: which one comes back with an expiry is what counts. */
const openai: ErrorDialect = { errorBody: () => 'openai' };
const anthropic: ErrorDialect = { errorBody: () => 'anthropic' };

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function answer(body: string): CompletedAnswer {
  return { status: 200, body, upstream: 'u1', model: 'm', usage: null, errorCode: null, headers: {} };
}

/** How a waiter ended, read without leaving a rejection unhandled meanwhile. */
function outcome(
  waiting: Promise<CompletedAnswer>,
): Promise<{ answer: CompletedAnswer } | { error: unknown }> {
  return waiting.then(
    (value) => ({ answer: value }),
    (error: unknown) => ({ error }),
  );
}

type Expiry = [jobId: string, timeoutMs: number, dialect: ErrorDialect];

function waiters() {
  const expiries: Expiry[] = [];
  return { waiters: new Waiters((...expiry) => expiries.push(expiry)), expiries };
}

describe('Waiters', () => {
  it('resolves a waiter with its answer exactly once', async () => {
    const { waiters: pending } = waiters();
    const waiting = pending.add('job-1', openai, 10_000, Date.now());
    expect(pending.size).toBe(1);
    expect(pending.resolve('job-1', answer('{"first":true}'))).toBe(true);
    expect(pending.resolve('job-1', answer('{"second":true}'))).toBe(false);
    expect(pending.reject('job-1', new Error('too late'))).toBe(false);
    await expect(waiting).resolves.toEqual(answer('{"first":true}'));
    expect(pending.size).toBe(0);
  });

  it('rejects a waiter with its error exactly once', async () => {
    const { waiters: pending } = waiters();
    const waiting = pending.add('job-1', openai, 10_000, Date.now());
    const failure = new Error('the job failed');
    expect(pending.reject('job-1', failure)).toBe(true);
    expect(pending.reject('job-1', new Error('again'))).toBe(false);
    expect(pending.resolve('job-1', answer('{}'))).toBe(false);
    await expect(waiting).rejects.toBe(failure);
    expect(pending.size).toBe(0);
  });

  it('answers false for a job nobody waits for', () => {
    const { waiters: pending } = waiters();
    expect(pending.resolve('unknown', answer('{}'))).toBe(false);
    expect(pending.reject('unknown', new Error('x'))).toBe(false);
  });

  it('names the queued jobs, and rejectQueued ends only those', async () => {
    const { waiters: pending } = waiters();
    const now = Date.now();
    const a = outcome(pending.add('a', openai, 10_000, now));
    const b = outcome(pending.add('b', openai, 10_000, now));
    const c = outcome(pending.add('c', openai, 10_000, now));
    expect(pending.queuedIds()).toEqual([]);
    pending.markQueued('c');
    pending.markQueued('a');
    pending.markQueued('not-waiting');
    expect(pending.queuedIds()).toEqual(['a', 'c']);

    const refusal = new Error('no workers came');
    expect(pending.rejectQueued(refusal)).toEqual(['a', 'c']);
    expect(await a).toEqual({ error: refusal });
    expect(await c).toEqual({ error: refusal });
    expect(pending.size).toBe(1);
    expect(pending.queuedIds()).toEqual([]);
    expect(pending.resolve('b', answer('{"b":1}'))).toBe(true);
    expect(await b).toEqual({ answer: answer('{"b":1}') });
  });

  it('olderThan names the jobs waiting at least that long, oldest first', () => {
    const { waiters: pending } = waiters();
    void pending.add('first', openai, 60_000, 1_000);
    void pending.add('second', openai, 60_000, 2_000);
    void pending.add('third', openai, 60_000, 3_000);
    expect(pending.olderThan(1_500, 3_500)).toEqual(['first', 'second']);
    expect(pending.olderThan(0, 3_000)).toEqual(['first', 'second', 'third']);
    expect(pending.olderThan(5_000, 3_500)).toEqual([]);
    pending.resolve('first', answer('{}'));
    expect(pending.olderThan(1_500, 3_500)).toEqual(['second']);
  });

  it('rejectAll ends every waiter and leaves no deadline running', async () => {
    const { waiters: pending, expiries } = waiters();
    const now = Date.now();
    const ends = [
      outcome(pending.add('a', openai, 1_000, now)),
      outcome(pending.add('b', anthropic, 2_000, now)),
    ];
    const shutdown = new Error('the gateway is stopping');
    pending.rejectAll(shutdown);
    expect(await Promise.all(ends)).toEqual([{ error: shutdown }, { error: shutdown }]);
    expect(pending.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(expiries).toEqual([]);
  });

  it('calls back at each deadline with the job, its timeout and its error dialect', async () => {
    const { waiters: pending, expiries } = waiters();
    const now = Date.now();
    void pending.add('chat', openai, 1_000, now);
    const messages = outcome(pending.add('messages', anthropic, 500, now));
    void pending.add('answered', openai, 1_000, now);
    pending.resolve('answered', answer('{}'));

    vi.advanceTimersByTime(499);
    expect(expiries).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expiries).toEqual([['messages', 500, anthropic]]);
    // The callback only tells: the waiter is ended by whoever answers it (here, with a 504).
    expect(pending.size).toBe(2);
    const timedOut = new Error('deadline');
    expect(pending.reject('messages', timedOut)).toBe(true);
    expect(await messages).toEqual({ error: timedOut });

    vi.advanceTimersByTime(500);
    expect(expiries).toEqual([
      ['messages', 500, anthropic],
      ['chat', 1_000, openai],
    ]);
  });

  it('does not call back for a waiter that ended before its deadline', () => {
    const { waiters: pending, expiries } = waiters();
    void pending.add('cancelled', openai, 1_000, Date.now()).catch(() => undefined);
    pending.reject('cancelled', new Error('client gone'));
    vi.advanceTimersByTime(2_000);
    expect(expiries).toEqual([]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineList } from '../src/completion/deadline-list.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function listOf(timeoutMs: number) {
  const expired: string[] = [];
  const list = new DeadlineList<string>(timeoutMs, (key) => expired.push(key));
  return { list, expired };
}

describe('DeadlineList', () => {
  it('expires each key its timeout after it was added, in arrival order', () => {
    const { list, expired } = listOf(1_000);
    list.add('a');
    vi.advanceTimersByTime(400);
    list.add('b');
    vi.advanceTimersByTime(599);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
    expect(list.size).toBe(1);
    vi.advanceTimersByTime(399);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a', 'b']);
    expect(list.size).toBe(0);
  });

  it('keeps one timer for all its keys, and none once they are gone', () => {
    const { list, expired } = listOf(1_000);
    for (let i = 0; i < 100; i += 1) list.add(`job-${i}`);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(expired).toHaveLength(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('expires keys that share a deadline together, in the order they came', () => {
    const { list, expired } = listOf(500);
    list.add('x');
    list.add('y');
    list.add('z');
    vi.advanceTimersByTime(500);
    expect(expired).toEqual(['x', 'y', 'z']);
  });

  it('never expires a removed key, and removing the first does not delay the next', () => {
    const { list, expired } = listOf(1_000);
    list.add('first');
    vi.advanceTimersByTime(300);
    list.add('second');
    list.remove('first');
    expect(list.size).toBe(1);
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['second']);
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual(['second']);
  });

  it('counts from the time it is given: a key accepted earlier expires that much sooner', () => {
    const { list, expired } = listOf(1_000);
    list.add('late-joiner', Date.now() - 600);
    vi.advanceTimersByTime(399);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['late-joiner']);
  });

  it('arms again for a key added after the list ran empty', () => {
    const { list, expired } = listOf(200);
    list.add('one');
    vi.advanceTimersByTime(200);
    expect(vi.getTimerCount()).toBe(0);
    list.add('two');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(['one', 'two']);
  });

  it('clear stops the timer: nothing in the list expires any more', () => {
    const { list, expired } = listOf(1_000);
    list.add('a');
    list.add('b');
    list.clear();
    expect(list.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(expired).toEqual([]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../src/completion/deadlines.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function deadlines() {
  const expired: Array<[string, number]> = [];
  return { deadlines: new Deadlines<string>((key, timeoutMs) => expired.push([key, timeoutMs])), expired };
}

describe('Deadlines', () => {
  it('expires keys of different timeouts each at its own time, with its timeout', () => {
    const { deadlines: list, expired } = deadlines();
    list.add('slow', 3_000);
    list.add('fast', 1_000);
    list.add('middle', 2_000);
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([['fast', 1_000]]);
    vi.advanceTimersByTime(2_000);
    expect(expired).toEqual([
      ['fast', 1_000],
      ['middle', 2_000],
      ['slow', 3_000],
    ]);
  });

  it('keeps one timer per distinct timeout, however many keys share it', () => {
    const { deadlines: list } = deadlines();
    for (let i = 0; i < 50; i += 1) list.add(`a-${i}`, 1_000);
    for (let i = 0; i < 50; i += 1) list.add(`b-${i}`, 2_000);
    expect(vi.getTimerCount()).toBe(2);
  });

  it('never expires a removed key; removing an unknown key or one twice is harmless', () => {
    const { deadlines: list, expired } = deadlines();
    list.add('kept', 1_000);
    list.add('removed', 1_000);
    list.add('other-timeout', 500);
    list.remove('removed');
    list.remove('removed');
    list.remove('never-added');
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual([
      ['other-timeout', 500],
      ['kept', 1_000],
    ]);
  });

  it('counts from the acceptance time it is given', () => {
    const { deadlines: list, expired } = deadlines();
    list.add('accepted-earlier', 1_000, Date.now() - 700);
    vi.advanceTimersByTime(300);
    expect(expired).toEqual([['accepted-earlier', 1_000]]);
  });

  it('keeps at most 16 emptied lists: beyond them, an emptied list and its timer are dropped at once', () => {
    const { deadlines: list, expired } = deadlines();
    const timeouts = Array.from({ length: 20 }, (_, i) => 1_000 + i);
    for (const timeoutMs of timeouts) list.add(`key-${timeoutMs}`, timeoutMs);
    expect(vi.getTimerCount()).toBe(20);
    // The first four removals find more than 16 lists: each empties one, which goes with its timer.
    for (const timeoutMs of timeouts.slice(0, 4)) list.remove(`key-${timeoutMs}`);
    expect(vi.getTimerCount()).toBe(16);
    // From there the emptied lists are kept for later requests with their timeouts.
    for (const timeoutMs of timeouts.slice(4)) list.remove(`key-${timeoutMs}`);
    expect(vi.getTimerCount()).toBe(16);
    vi.advanceTimersByTime(5_000);
    expect(expired).toEqual([]);
    // A kept list and a dropped one both serve their timeout again.
    list.add('again-kept', 1_019);
    list.add('again-dropped', 1_000);
    vi.advanceTimersByTime(1_019);
    expect(expired).toEqual([
      ['again-dropped', 1_000],
      ['again-kept', 1_019],
    ]);
  });

  it('clear stops every timer: nothing expires', () => {
    const { deadlines: list, expired } = deadlines();
    list.add('a', 1_000);
    list.add('b', 2_000);
    list.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
  });
});

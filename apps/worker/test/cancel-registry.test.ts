import { isProxyError } from '@openai-proxy/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CancelRegistry, JobCancelledError } from '../src/cancel-registry.js';
import { JobHandedBackError } from '../src/hand-back-error.js';

let registry: CancelRegistry;

beforeEach(() => {
  vi.useFakeTimers();
  registry = new CancelRegistry();
});

afterEach(() => {
  registry.close();
  vi.useRealTimers();
});

/** A deadline far enough away that the sweep leaves the job alone. */
const farDeadline = () => Date.now() + 3_600_000;

describe('CancelRegistry', () => {
  it('aborts a running job when it is cancelled', () => {
    const signal = registry.register('job-1', farDeadline(), Date.now());
    const other = registry.register('job-2', farDeadline(), Date.now());
    expect(signal.aborted).toBe(false);
    registry.cancel('job-1');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(JobCancelledError);
    expect((signal.reason as JobCancelledError).jobId).toBe('job-1');
    expect(other.aborted).toBe(false);
    expect(registry.activeCount).toBe(2);
  });

  it('remembers a cancel that came before its job for a minute', () => {
    registry.cancel('early');
    vi.advanceTimersByTime(59_000);
    // A later cancel sweeps the remembered ones; this one is not a minute old yet.
    registry.cancel('another');
    const signal = registry.register('early', farDeadline(), Date.now());
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(JobCancelledError);
  });

  it('forgets a cancel older than a minute', () => {
    registry.cancel('long-ago');
    vi.advanceTimersByTime(60_001);
    registry.cancel('recent');
    expect(registry.register('long-ago', farDeadline(), Date.now()).aborted).toBe(false);
    expect(registry.register('recent', farDeadline(), Date.now()).aborted).toBe(true);
  });

  it('aborts a job whose deadline passed at the next sweep, naming its timeout', () => {
    const started = Date.now();
    const signal = registry.register('slow', started + 1_500, started);
    const released = registry.register('released', started + 1_500, started);
    registry.release('released');
    expect(registry.activeCount).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(signal.aborted).toBe(true);
    expect(isProxyError(signal.reason)).toBe(true);
    expect((signal.reason as { code: string }).code).toBe('deadline_exceeded');
    expect((signal.reason as Error).message).toContain('1500 ms');
    expect(released.aborted).toBe(false);
  });

  it('keeps the first reason: a cancelled job is not aborted again by its deadline', () => {
    const started = Date.now();
    const signal = registry.register('job', started + 500, started);
    registry.cancel('job');
    vi.advanceTimersByTime(2_000);
    expect(signal.reason).toBeInstanceOf(JobCancelledError);
  });

  it('handBackAll aborts the running jobs and every job registered after it', () => {
    const running = registry.register('running', farDeadline(), Date.now());
    const cancelled = registry.register('cancelled', farDeadline(), Date.now());
    registry.cancel('cancelled');
    registry.handBackAll();
    expect(running.reason).toBeInstanceOf(JobHandedBackError);
    expect((running.reason as JobHandedBackError).jobId).toBe('running');
    expect(cancelled.reason).toBeInstanceOf(JobCancelledError);
    const later = registry.register('later', farDeadline(), Date.now());
    expect(later.aborted).toBe(true);
    expect(later.reason).toBeInstanceOf(JobHandedBackError);
  });

  it('sweeps no more once closed', () => {
    expect(vi.getTimerCount()).toBe(1);
    registry.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

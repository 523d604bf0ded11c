import type { MockBehavior } from './types.js';

/** One-shot behaviours first, in order, then the default. */
export class BehaviorQueue {
  private readonly queue: MockBehavior[] = [];

  constructor(private fallback: MockBehavior) {}

  setDefault(behavior: MockBehavior): void {
    this.fallback = behavior;
  }

  enqueue(behaviors: readonly MockBehavior[]): void {
    this.queue.push(...behaviors);
  }

  next(): MockBehavior {
    return this.queue.shift() ?? this.fallback;
  }
}

/**
 * How urgent a piece of work is: `interactive` (a person or a program waiting on the answer),
 * `background` (work nobody waits on at once: OpenAI's flex tier, background responses), `batch`
 * (batch files). Interactive work goes first in the queue and keeps a share of every limited
 * upstream's capacity (CAPACITY_INTERACTIVE_SHARE) that the others never take.
 */
export type WorkClass = 'interactive' | 'background' | 'batch';

/** BullMQ priorities (lower goes first); interactive jobs carry none, and BullMQ takes those first. */
export const QUEUE_PRIORITY: Readonly<Record<WorkClass, number | undefined>> = {
  interactive: undefined,
  background: 5,
  batch: 10,
};

/**
 * A request's class by what it asks for: `service_tier: "flex"` is OpenAI's way of saying slower
 * is fine (chat completions and Responses); anything else is interactive.
 */
export function workClassOf(body: Readonly<Record<string, unknown>>): WorkClass {
  return body.service_tier === 'flex' ? 'background' : 'interactive';
}

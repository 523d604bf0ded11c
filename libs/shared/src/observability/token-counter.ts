import type { Counter } from 'prom-client';

/** Distinct model labels one process reports; further models are counted as `other`. */
export const MAX_MODEL_LABELS = 50;
const MAX_MODEL_LENGTH = 100;

/** The parts of an answer that carry tokens (a folded answer, a queue result). */
export interface AnswerTokens {
  model?: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

/**
 * Counts an answer's tokens by model and type (prompt, completion). The model comes from the
 * upstream's answer, which mostly echoes what the client asked for, so its label set is capped:
 * a client sending made-up model names cannot grow the scrape without bound.
 */
export function tokenCounter(
  counter: Counter<'model' | 'type'>,
  maxModels = MAX_MODEL_LABELS,
): (answer: AnswerTokens) => void {
  const models = new Set<string>();
  const labelFor = (model: string | null | undefined): string => {
    if (model == null || model === '') return 'unknown';
    if (model.length > MAX_MODEL_LENGTH) return 'other';
    if (models.has(model)) return model;
    if (models.size >= maxModels) return 'other';
    models.add(model);
    return model;
  };
  return (answer) => {
    if (answer.usage == null) return;
    const model = labelFor(answer.model);
    counter.inc({ model, type: 'prompt' }, answer.usage.prompt_tokens);
    counter.inc({ model, type: 'completion' }, answer.usage.completion_tokens);
  };
}

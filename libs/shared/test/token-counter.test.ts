import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { tokenCounter } from '../src/observability/token-counter.js';

/** A token counter on its own registry, as each app's metrics make one. */
function tokenMetrics(registry = new Registry()) {
  const tokens = new Counter({
    name: 'openai_proxy_tokens_total',
    help: 'tokens',
    labelNames: ['model', 'type'] as const,
    registers: [registry],
  });
  return { registry, tokens, countTokens: tokenCounter(tokens) };
}

async function samples(registry: Registry, name: string): Promise<Record<string, string | number>[]> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  return (metric?.values ?? []).map(({ labels, value }) => ({ ...labels, value }));
}

describe('token counting', () => {
  it('counts prompt and completion tokens by model, nothing when the answer has no usage', async () => {
    const metrics = tokenMetrics();
    metrics.countTokens({ model: 'a', usage: { prompt_tokens: 3, completion_tokens: 4 } });
    metrics.countTokens({ model: 'a', usage: { prompt_tokens: 1, completion_tokens: 1 } });
    metrics.countTokens({ model: 'b', usage: null });
    metrics.countTokens({ model: null, usage: { prompt_tokens: 2, completion_tokens: 0 } });
    expect(await samples(metrics.registry, 'openai_proxy_tokens_total')).toEqual([
      { model: 'a', type: 'prompt', value: 4 },
      { model: 'a', type: 'completion', value: 5 },
      { model: 'unknown', type: 'prompt', value: 2 },
      { model: 'unknown', type: 'completion', value: 0 },
    ]);
  });

  it('caps the model label set: models past the limit and absurdly long names count as `other`', async () => {
    const registry = new Registry();
    const metrics = tokenMetrics(registry);
    const count = tokenCounter(metrics.tokens, 2);
    const usage = { prompt_tokens: 1, completion_tokens: 1 };
    for (const model of ['m1', 'm2', 'm3', 'm1', 'm4', 'x'.repeat(500)]) count({ model, usage });
    const prompt = (await samples(registry, 'openai_proxy_tokens_total')).filter((s) => s.type === 'prompt');
    expect(prompt).toEqual([
      { model: 'm1', type: 'prompt', value: 2 },
      { model: 'm2', type: 'prompt', value: 1 },
      { model: 'other', type: 'prompt', value: 3 },
    ]);
  });
});

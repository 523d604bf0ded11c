import { z } from 'zod';

/**
 * What the proxy checks before a request may reach an upstream or the queue. Only the fields
 * the proxy itself relies on are checked; every other field is kept (`z.looseObject`) and
 * forwarded untouched, so new OpenAI parameters work without a proxy release.
 */

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

const message = z.looseObject({
  role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
});

const common = {
  model: z.string({ error: 'is required and must be a string' }).min(1, { error: 'must not be empty' }),
  stream: z.boolean({ error: 'must be a boolean' }).optional(),
};

export const chatCompletionRequest = z.looseObject({
  ...common,
  messages: z
    .array(message, { error: 'is required and must be an array of messages' })
    .min(1, { error: 'must contain at least one message' }),
});

export const textCompletionRequest = z.looseObject({
  ...common,
  prompt: z.union(
    [z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))],
    { error: 'is required: a string, an array of strings, or token arrays' },
  ),
});

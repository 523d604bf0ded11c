import { z } from 'zod';

/**
 * What the proxy checks before a request may reach an upstream or the queue. Only the fields
 * the proxy itself relies on are checked; every other field is kept (`z.looseObject`) and
 * forwarded untouched, so new OpenAI parameters work without a proxy release. Each message
 * says what was expected; `validate-body.ts` adds the parameter's name.
 */

export const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

const message = z.looseObject(
  {
    role: z.enum(ROLES, { error: `must be one of ${ROLES.map((role) => `'${role}'`).join(', ')}` }),
  },
  { error: 'must be a message object' },
);

const common = {
  model: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  // OpenAI's API takes `null` for "not set"; anything but a boolean would be guessed at.
  stream: z.boolean({ error: 'must be a boolean' }).nullable().optional(),
};

export const chatCompletionRequest = z.looseObject({
  ...common,
  messages: z
    .array(message, { error: 'must be an array of messages' })
    .min(1, { error: 'must contain at least one message' }),
});

export const textCompletionRequest = z.looseObject({
  ...common,
  prompt: z.union(
    [z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))],
    { error: 'must be a string, an array of strings, or an array of token arrays' },
  ),
});

import { missing, wrongType } from './field-errors.js';

/**
 * `POST /v1/responses`: `input`, a string or an array of input items. The items themselves are
 * the upstream's to judge: the Responses API takes many item types and adds more.
 */
export function checkResponsesInput(body: Record<string, unknown>): void {
  const { input } = body;
  if (input === undefined) throw missing('input');
  if (typeof input !== 'string' && !Array.isArray(input))
    throw wrongType('input', 'must be a string or an array of input items');
}

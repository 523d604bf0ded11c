import { errors } from '../../fold/errors.js';

/**
 * The 400s a request check throws, named as OpenAI names them: `param` is the first bad field
 * (`messages[0].role`) and `code` OpenAI's for the fault; the message never repeats the value sent.
 */
export const missing = (param: string) =>
  errors.badRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
export const wrongType = (param: string, expected: string) =>
  errors.badRequest(`Invalid '${param}': ${expected}.`, param, 'invalid_type');
export const wrongValue = (param: string, expected: string) =>
  errors.badRequest(`Invalid '${param}': ${expected}.`, param, 'invalid_value');
export const emptyArray = (param: string, expected: string) =>
  errors.badRequest(`Invalid '${param}': ${expected}.`, param, 'empty_array');

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const isInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value);

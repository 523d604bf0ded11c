import { openAIErrorDialect } from '../fold/error-dialect.js';
import { responsesFolder } from '../responses/fold-responses-stream.js';
import type { CompletionApi } from './completion-api.js';
import { missing, wrongType } from './request-checks/field-errors.js';

/**
 * `POST /v1/responses`: `input`, a string or an array of input items. The items themselves are
 * the upstream's to judge: the Responses API takes many item types and adds more.
 */
export const responsesApi: CompletionApi = {
  kind: 'responses',
  path: '/v1/responses',
  endpoint: '/responses',
  checkRequest: ({ input }) => {
    if (input === undefined) throw missing('input');
    if (typeof input !== 'string' && !Array.isArray(input))
      throw wrongType('input', 'must be a string or an array of input items');
  },
  folder: responsesFolder,
  keyHeader: 'authorization',
  hasStreamOptions: false,
  errorDialect: openAIErrorDialect,
  backgroundMode: true,
};

export { responsesFolder, responseUsageCounts } from './fold-responses-stream.js';
export { responsesStreamError } from './responses-errors.js';
export { ResponsesFold } from './responses-fold.js';
export type { FoldedResponse, ResponseObject, ResponseUsage } from './types.js';

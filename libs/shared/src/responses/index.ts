export { foldResponsesStream, responseUsageCounts } from './fold-responses-stream.js';
export { foldJsonEvents, type JsonEventFold, type StreamEnd, type StreamRead } from './json-event-stream.js';
export { compareOutput } from './output-cross-check.js';
export { OutputItemFold } from './output-item-fold.js';
export { errorEventReport, responsesStreamError } from './responses-errors.js';
export { ResponsesFold } from './responses-fold.js';
export type { FoldedResponse, ResponseObject, ResponseUsage } from './types.js';

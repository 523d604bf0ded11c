import { type ErrorDialect, openAIErrorDialect } from '../fold/error-dialect.js';
import { chatCompletionsApi } from './chat-completions-api.js';
import type { CompletionApi } from './completion-api.js';
import { completionsApi } from './completions-api.js';
import { messagesApi } from './messages-api.js';
import { responsesApi } from './responses-api.js';

/** The APIs the proxy serves, most traffic first (Express tries the routes in that order). */
export const BUILT_IN_APIS: readonly CompletionApi[] = [
  chatCompletionsApi,
  completionsApi,
  responsesApi,
  messagesApi,
];

/** APIs by their `kind`, as jobs name them. */
export type ApiRegistry = ReadonlyMap<string, CompletionApi>;

export function apiRegistry(apis: readonly CompletionApi[]): ApiRegistry {
  return new Map(apis.map((api) => [api.kind, api]));
}

export const BUILT_IN_API_REGISTRY: ApiRegistry = apiRegistry(BUILT_IN_APIS);

/** The shape of the errors a job's client reads, by the job's API (OpenAI's for one unknown). */
export function errorDialectOf(apis: ApiRegistry, kind: string): ErrorDialect {
  return apis.get(kind)?.errorDialect ?? openAIErrorDialect;
}

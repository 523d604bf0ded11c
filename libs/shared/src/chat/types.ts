/**
 * The shapes the fold reads and writes: our own minimal interfaces for OpenAI's chat and legacy
 * completion objects (the `openai` package is a dev dependency only). Chunks are typed loosely on
 * purpose: the fold reads them defensively because providers differ; the completions it writes are
 * typed exactly, plus an index signature for the provider fields it keeps.
 */

import type { JsonObject } from '../fold/json-merge.js';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: Record<string, unknown> | null;
  completion_tokens_details?: Record<string, unknown> | null;
  /** Providers add their own counters (Groq's timings, xAI's cost); they are kept as sent. */
  [key: string]: unknown;
}

// ---- chat.completion.chunk (what an upstream streams) ----

export interface ChatCompletionChunkToolCall {
  index?: number;
  id?: string | null;
  type?: string | null;
  function?: { name?: string | null; arguments?: string | null } | null;
  [key: string]: unknown;
}

export interface ChatCompletionChunkDelta {
  role?: string | null;
  /** A string, or (Mistral) an array of typed parts. */
  content?: string | ChatCompletionContentPart[] | null;
  refusal?: string | null;
  tool_calls?: ChatCompletionChunkToolCall[] | null;
  function_call?: { name?: string | null; arguments?: string | null } | null;
  audio?: { id?: string; data?: string; transcript?: string; expires_at?: number } | null;
  [key: string]: unknown;
}

export interface ChatCompletionChunkChoice {
  index?: number;
  delta?: ChatCompletionChunkDelta | null;
  logprobs?: { content?: unknown[] | null; refusal?: unknown[] | null } | null;
  finish_reason?: string | null;
  [key: string]: unknown;
}

export interface ChatCompletionChunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  choices?: ChatCompletionChunkChoice[];
  usage?: CompletionUsage | null;
  service_tier?: string | null;
  system_fingerprint?: string | null;
  [key: string]: unknown;
}

/** A typed part of a `content` array (Mistral): `text`, `thinking`, or something we do not know. */
export interface ChatCompletionContentPart {
  type: string;
  text?: string;
  thinking?: string | ChatCompletionContentPart[];
  [key: string]: unknown;
}

// ---- chat.completion (what the fold produces) ----

export interface ChatCompletionFunctionCall {
  name: string;
  arguments: string;
}

export interface ChatCompletionMessageToolCall {
  id: string;
  type: string;
  function: ChatCompletionFunctionCall;
  [key: string]: unknown;
}

export interface ChatCompletionMessage {
  role: string;
  content: string | null;
  refusal: string | null;
  tool_calls?: ChatCompletionMessageToolCall[];
  function_call?: ChatCompletionFunctionCall;
  audio?: Record<string, unknown>;
  annotations?: unknown[];
  /** Provider extras such as `reasoning_content` / `reasoning`. */
  [key: string]: unknown;
}

export interface ChatCompletionLogprobs {
  content: unknown[] | null;
  refusal: unknown[] | null;
  [key: string]: unknown;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  logprobs: ChatCompletionLogprobs | null;
  finish_reason: string | null;
  /** Provider extras such as Azure's `content_filter_results`. */
  [key: string]: unknown;
}

/** What the chat and the text completion share: everything but the choices' shape. */
export interface CompletionShape<O extends string, C> {
  id: string;
  object: O;
  created: number;
  model: string;
  choices: C[];
  usage: CompletionUsage | null;
  service_tier?: string | null;
  system_fingerprint?: string | null;
  /** Provider extras such as `citations`, `prompt_filter_results`, `x_groq`. */
  [key: string]: unknown;
}

export type ChatCompletion = CompletionShape<'chat.completion', ChatCompletionChoice>;

// ---- legacy /v1/completions ----

export interface TextCompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
  [key: string]: unknown;
}

export interface TextCompletionChoice {
  text: string;
  index: number;
  logprobs: TextCompletionLogprobs | null;
  finish_reason: string | null;
  [key: string]: unknown;
}

export type TextCompletion = CompletionShape<'text_completion', TextCompletionChoice>;

/** What both folds offer to `ChatStreamFolder`. */
export interface CompletionFold<T> {
  add(chunk: JsonObject): void;
  readonly chunkCount: number;
  /** True when at least one choice was seen and every choice seen has a finish reason. */
  isFinished(): boolean;
  result(): T;
}

/**
 * The shapes the Responses fold writes. Events are read as plain JSON objects, defensively, because
 * servers that speak this wire format differ (field order, missing `sequence_number`, extra fields);
 * the `response` object is typed only as far as the fold and its callers read it, and every other
 * field is kept as the upstream sent it.
 */

import type { JsonObject } from '../fold/json-merge.js';
import type { FoldedAnswer } from '../fold/stream-folder.js';

export interface ResponseUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens?: number;
  input_tokens_details?: JsonObject | null;
  output_tokens_details?: JsonObject | null;
  /** Servers add their own counters (OpenRouter's `cost`, xAI's `num_sources_used`). */
  [key: string]: unknown;
}

/** The `response` object a non-stream `POST /v1/responses` returns. */
export interface ResponseObject {
  id: string;
  object: string;
  created_at: number;
  status: string;
  model: string;
  /** Output items (`message`, `reasoning`, `function_call`, hosted tool calls, ...), as sent. */
  output: JsonObject[];
  usage: ResponseUsage | null;
  error?: JsonObject | null;
  incomplete_details?: JsonObject | null;
  [key: string]: unknown;
}

/** The folded answer, plus where it disagrees with what the deltas said. */
export type FoldedResponse = FoldedAnswer & {
  /**
   * Where the answer's `output` disagrees with what the deltas built, one line each (empty for a
   * consistent stream). The answer stands; these are for the caller's log, so that a provider whose
   * deltas and final object differ gets noticed.
   */
  mismatches: string[];
};

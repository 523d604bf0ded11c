import { STATUS_CODES } from 'node:http';

/**
 * Reason phrases Node has no entry for. Without one Node writes `unknown` in the status line, and
 * 529 (Anthropic's "overloaded", relayed from an upstream or answered from a folded stream)
 * is such a status: `HTTP/1.1 529 unknown` reads like a broken proxy in a log or `curl -i`.
 * The phrase is Anthropic's own word for it.
 */
const MISSING_REASON_PHRASES: Readonly<Record<number, string>> = { 529: 'Overloaded' };

/**
 * Adds them to Node's table, which Node reads whenever a status line goes out without a phrase
 * of its own: one entry covers every way the gateway writes a status (a relayed upstream
 * response, `writeJson`, the keep-alive 200's later error).
 */
export function addMissingReasonPhrases(): void {
  for (const [status, phrase] of Object.entries(MISSING_REASON_PHRASES)) STATUS_CODES[status] ??= phrase;
}

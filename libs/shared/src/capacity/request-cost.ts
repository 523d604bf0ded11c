/** Output limits by the names the APIs give them; the first one present counts. */
const OUTPUT_LIMIT = /"(?:max_completion_tokens|max_output_tokens|max_tokens)"\s*:\s*(\d+)/;

/** About four bytes of English text a token, as OpenAI's own rule of thumb has it. */
const BYTES_PER_TOKEN = 4;

/**
 * The tokens a request may cost before it is made, for `tpm`: its JSON body's size as prompt
 * tokens, plus the output limit it asks for. An estimate, corrected by the answer's usage afterwards.
 */
export function estimatedTokens(json: string): number {
  const output = OUTPUT_LIMIT.exec(json)?.[1];
  return Math.ceil(json.length / BYTES_PER_TOKEN) + (output === undefined ? 0 : Number(output));
}

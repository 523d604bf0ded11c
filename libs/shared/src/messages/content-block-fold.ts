/**
 * One content block of a Messages stream: what `content_block_start` sent, grown by its deltas.
 *
 * - `text_delta` appends to `text`, `thinking_delta` to `thinking`; `signature_delta` sets the
 *   thinking block's `signature` (it comes once, just before the block stops); `citations_delta`
 *   appends its citation to the text block's `citations`, creating the array when the start had none.
 * - `input_json_delta` fragments are joined and parsed once, when the message is built, into the
 *   block's `input` (tool_use, server_tool_use, mcp_tool_use, and any block that starts with an
 *   `input`). No fragment, or only empty ones, leaves the input the start sent: `{}`, or a filled
 *   input for a tool called from code execution (which gets no deltas). Input cut off by
 *   `max_tokens` is parsed partially, as the official SDKs do.
 * - Any other delta type (`compaction_delta`, and types yet to come) sets its fields on the block:
 *   Anthropic's SDK notes that such a delta carries the block's final value.
 * - Blocks that arrive complete (`redacted_thinking`, server tool results) are kept as they started.
 *
 * A delta that does not fit its block (text for a tool call) is a broken stream: a 502.
 */
import { errors } from '../fold/errors.js';
import type { JsonObject } from '../fold/json-merge.js';
import { isObject, setField } from '../fold/json-merge.js';
import { parsePartialJson } from './partial-json.js';
import type { ContentBlock } from './types.js';

/** The append-deltas: the block type each fits, and the field (of both) it appends. */
const TEXT_DELTAS: Record<string, { blockType: string; field: string }> = {
  text_delta: { blockType: 'text', field: 'text' },
  thinking_delta: { blockType: 'thinking', field: 'thinking' },
};

export class ContentBlockFold {
  readonly #block: ContentBlock;
  readonly #position: string;
  #inputJson = '';
  #stopped: boolean;

  /** `stopped` for blocks that come whole inside `message_start`. */
  constructor(block: ContentBlock, position: string, stopped = false) {
    this.#block = block;
    this.#position = position;
    this.#stopped = stopped;
  }

  get type(): string {
    return this.#block.type;
  }

  isStopped(): boolean {
    return this.#stopped;
  }

  stop(): void {
    this.#stopped = true;
  }

  addDelta(delta: JsonObject): void {
    const type = typeof delta.type === 'string' ? delta.type : '';
    const text = TEXT_DELTAS[type];
    if (text !== undefined) {
      this.#expect(type, text.blockType);
      const previous = this.#block[text.field];
      setField(
        this.#block,
        text.field,
        (typeof previous === 'string' ? previous : '') + stringOr(delta[text.field]),
      );
    } else if (type === 'input_json_delta') {
      if (!('input' in this.#block)) this.#mismatch(type);
      this.#inputJson += stringOr(delta.partial_json);
    } else if (type === 'signature_delta') {
      this.#expect(type, 'thinking');
      setField(this.#block, 'signature', stringOr(delta.signature));
    } else if (type === 'citations_delta') {
      this.#expect(type, 'text');
      const citations = Array.isArray(this.#block.citations) ? this.#block.citations : [];
      if (delta.citation !== undefined) citations.push(delta.citation);
      this.#block.citations = citations;
    } else {
      for (const key of Object.keys(delta)) if (key !== 'type') setField(this.#block, key, delta[key]);
    }
  }

  /**
   * The finished block. Tool input that is not valid JSON is a broken stream (502), except when the
   * model was cut off (`stop_reason: "max_tokens"`) inside it: then the answer is what Anthropic
   * sends, a block whose input never finished, and its input is what was streamed, read as the
   * official SDKs read it (`parsePartialJson`: complete values kept, the one cut off dropped). Input
   * that is not even a prefix of JSON keeps what the block started with (`{}`).
   */
  result(stopReason: string | null): ContentBlock {
    if (this.#inputJson.trim() === '') return this.#block;
    let input: unknown;
    try {
      input = JSON.parse(this.#inputJson);
    } catch (cause) {
      if (stopReason === 'max_tokens') return this.#cutOff();
      throw errors.upstreamStream(
        `The upstream sent a ${this.#block.type} input that is not JSON (${this.#position}).`,
        'upstream_malformed_chunk',
        cause,
      );
    }
    return { ...this.#block, input };
  }

  #cutOff(): ContentBlock {
    try {
      return { ...this.#block, input: parsePartialJson(this.#inputJson) };
    } catch {
      return this.#block;
    }
  }

  #expect(deltaType: string, blockType: string): void {
    if (this.#block.type !== blockType) this.#mismatch(deltaType);
  }

  #mismatch(deltaType: string): never {
    throw errors.upstreamStream(
      `The upstream sent a ${deltaType} for a ${this.#block.type} block (${this.#position}).`,
      'upstream_malformed_chunk',
    );
  }
}

/** A content block as `content_block_start` or `message_start` sent it, copied. */
export function startedBlock(value: unknown, position: string): ContentBlock {
  if (isObject(value) && typeof value.type === 'string') return structuredClone(value) as ContentBlock;
  throw errors.upstreamStream(
    `The upstream started a content block without a type (${position}).`,
    'upstream_malformed_chunk',
  );
}

function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

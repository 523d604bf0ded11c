/**
 * The few fields of a completion request that the mock looks at, for each API it answers:
 * chat completions, legacy completions, OpenAI's Responses and Anthropic's Messages.
 */
export type CompletionKind = 'chat' | 'legacy' | 'responses' | 'messages';

export interface CompletionRequest {
  kind: CompletionKind;
  stream: boolean;
  model: string;
  n: number;
  includeUsage: boolean;
  /** Text the echo answers: the last user message (chat, Responses, Messages) or the prompt (legacy). */
  promptText: string;
  /** Whitespace-separated words in all the prompt text, used as `prompt_tokens`. */
  promptWords: number;
}

const DEFAULT_MODEL = 'mock-model';
const MAX_CHOICES = 128;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function countWords(text: string): number {
  let count = 0;
  for (const word of text.split(/\s+/)) if (word !== '') count++;
  return count;
}

/** A message `content`: a string, or an array of parts whose `text` parts are joined with spaces. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const part of content) {
    if (isRecord(part) && typeof part.text === 'string') texts.push(part.text);
  }
  return texts.join(' ');
}

function chatPrompt(body: Record<string, unknown>): { text: string; words: number } {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  let text = '';
  let words = 0;
  for (const message of messages) {
    if (!isRecord(message)) continue;
    const messageText = contentText(message.content);
    words += countWords(messageText);
    if (message.role === 'user') text = messageText;
  }
  return { text, words };
}

/** Responses: `input` is a string, or items whose user messages hold the text. */
function responsesPrompt(body: Record<string, unknown>): { text: string; words: number } {
  const input = body.input;
  if (typeof input === 'string') return { text: input, words: countWords(input) };
  return chatPrompt({ messages: input });
}

function legacyPrompt(body: Record<string, unknown>): { text: string; words: number } {
  const prompt = body.prompt;
  if (typeof prompt === 'string') return { text: prompt, words: countWords(prompt) };
  if (Array.isArray(prompt)) {
    const strings = prompt.filter((p): p is string => typeof p === 'string');
    return { text: strings.at(-1) ?? '', words: countWords(strings.join(' ')) };
  }
  return { text: '', words: 0 };
}

const PROMPT_OF: Record<CompletionKind, (body: Record<string, unknown>) => { text: string; words: number }> =
  {
    chat: chatPrompt,
    legacy: legacyPrompt,
    responses: responsesPrompt,
    // Messages carry their text as chat does: a string, or blocks with `text`.
    messages: chatPrompt,
  };

export function readCompletionRequest(kind: CompletionKind, body: unknown): CompletionRequest {
  const fields = isRecord(body) ? body : {};
  const streamOptions = isRecord(fields.stream_options) ? fields.stream_options : {};
  const rawN = fields.n;
  // Only chat and legacy completions have several choices.
  const manyChoices = kind === 'chat' || kind === 'legacy';
  const n =
    manyChoices && typeof rawN === 'number' && Number.isInteger(rawN) && rawN > 0
      ? Math.min(rawN, MAX_CHOICES)
      : 1;
  const prompt = PROMPT_OF[kind](fields);
  return {
    kind,
    stream: fields.stream === true,
    model: typeof fields.model === 'string' ? fields.model : DEFAULT_MODEL,
    n,
    includeUsage: streamOptions.include_usage === true,
    promptText: prompt.text,
    promptWords: prompt.words,
  };
}

/**
 * JSON cut off at any point, parsed the way Anthropic's SDKs read a tool input that `max_tokens`
 * stopped: what was complete is kept; the value being written when the cut came is dropped (a
 * string, a number that might have had more digits, a literal such as `tru`), and so are a key
 * still waiting for its value and a trailing comma; then the open objects and arrays are closed.
 * `{"filename": "taxes.txt", "lines": ["a", "b` reads as `{"filename": "taxes.txt", "lines": ["a"]}`.
 *
 * The rules are those of the partial-JSON parser the Anthropic TypeScript SDK vendors
 * (`_vendor/partial-json-parser`), which the SDK does not export; a test compares the two on every
 * prefix of the recorded tool inputs and of generated JSON. Text that is not a prefix of JSON (an
 * unknown word, a stray character, a closer that does not match) is not repaired: it throws, as
 * `JSON.parse` does.
 */
export function parsePartialJson(text: string): unknown {
  const tokens = tokenize(text);
  const closed = tokens === null ? null : closeBrackets(withoutUnfinishedTail(tokens));
  return JSON.parse(closed === null ? text : closed.map((token) => token.text).join(' '));
}

type TokenKind = 'open' | 'close' | 'colon' | 'comma' | 'string' | 'number' | 'literal';

interface Token {
  kind: TokenKind;
  /** As written (a string with its quotes and escapes). */
  text: string;
  /** A number that runs to the end of the text: more digits may have followed. */
  cut?: boolean;
}

const PUNCTUATION: Readonly<Record<string, TokenKind>> = {
  '{': 'open',
  '[': 'open',
  '}': 'close',
  ']': 'close',
  ':': 'colon',
  ',': 'comma',
};
const LITERALS = ['true', 'false', 'null'];
const LETTERS = /[a-z]/i;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
const isWhitespace = (char: string | undefined) =>
  char === ' ' || char === '\t' || char === '\n' || char === '\r';

/** The text's tokens, an unfinished string or literal at its end left out; null for text that is not JSON. */
function tokenize(text: string): Token[] | null {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at] ?? '';
    const punctuation = PUNCTUATION[char];
    if (punctuation !== undefined) {
      tokens.push({ kind: punctuation, text: char });
      at += 1;
    } else if (isWhitespace(char)) {
      at += 1;
    } else if (char === '"') {
      const end = closingQuote(text, at);
      if (end === -1) break;
      tokens.push({ kind: 'string', text: text.slice(at, end + 1) });
      at = end + 1;
    } else if (/[-.\d]/.test(char)) {
      let end = at + 1;
      while (end < text.length && continuesNumber(text[end] ?? '', text[end - 1] ?? '')) end += 1;
      tokens.push({ kind: 'number', text: text.slice(at, end), cut: end === text.length });
      at = end;
    } else if (LETTERS.test(char)) {
      let end = at + 1;
      while (end < text.length && LETTERS.test(text[end] ?? '')) end += 1;
      const word = text.slice(at, end);
      if (LITERALS.includes(word)) tokens.push({ kind: 'literal', text: word });
      else if (!isCutLiteral(word, text.slice(end))) return null;
      at = end;
    } else {
      return null;
    }
  }
  return tokens;
}

/** Digits, a point, an exponent, and a sign only right after the exponent's `e`. */
function continuesNumber(char: string, previous: string): boolean {
  return /[\d.eE]/.test(char) || ((char === '-' || char === '+') && (previous === 'e' || previous === 'E'));
}

/** The index of the quote that closes the string opening at `start`; -1 when the text ends first. */
function closingQuote(text: string, start: number): number {
  for (let end = text.indexOf('"', start + 1); end !== -1; end = text.indexOf('"', end + 1)) {
    let backslashes = 0;
    while (text[end - 1 - backslashes] === '\\') backslashes += 1;
    if (backslashes % 2 === 0) return end;
  }
  return -1;
}

/** `nul` at the very end of the text: the start of a literal the cut interrupted. */
function isCutLiteral(word: string, rest: string): boolean {
  return LITERALS.some((literal) => literal.startsWith(word)) && [...rest].every(isWhitespace);
}

/**
 * The tokens less what the cut left unfinished at the end: a colon, a number that may be
 * incomplete, an object key without its value, then one trailing comma.
 */
function withoutUnfinishedTail(tokens: Token[]): Token[] {
  const innermost = innermostOpen(tokens);
  let length = tokens.length;
  while (length > 0) {
    const last = tokens[length - 1];
    const before = tokens[length - 2];
    if (last === undefined) break;
    const unfinishedNumber = last.kind === 'number' && (last.cut === true || !JSON_NUMBER.test(last.text));
    const keyWithoutValue =
      last.kind === 'string' && innermost === '{' && (before?.kind === 'comma' || before?.text === '{');
    if (last.kind === 'colon' || unfinishedNumber || keyWithoutValue) {
      length -= 1;
      continue;
    }
    if (last.kind === 'comma') length -= 1;
    break;
  }
  return tokens.slice(0, length);
}

/** The bracket open at the end of the tokens, if any. */
function innermostOpen(tokens: readonly Token[]): string | undefined {
  const open: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'open') open.push(token.text);
    else if (token.kind === 'close') open.pop();
  }
  return open.at(-1);
}

/** The tokens with a closer for every bracket still open; null when a closer does not match. */
function closeBrackets(tokens: Token[]): Token[] | null {
  const expected: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'open') expected.push(token.text === '{' ? '}' : ']');
    else if (token.kind === 'close' && expected.pop() !== token.text) return null;
  }
  const closers = expected.reverse().map((text): Token => ({ kind: 'close', text }));
  return [...tokens, ...closers];
}

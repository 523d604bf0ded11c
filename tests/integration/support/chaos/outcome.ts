/**
 * What became of one client request under a fault, by the definitions of the chaos tests:
 * - `answered`: 200 with the answer to this very request;
 * - `refused`: a quick 503 at the door (the client may retry; nothing was accepted);
 * - `upstream_error`: an error the upstream caused (relayed, or a broken or failed stream);
 * - `cut`: the connection to the gateway broke (the gateway process died under it);
 * - `left`: the client gave up on purpose, before its answer;
 * - `lost`: accepted, then never answered by its deadline, or answered with an error that
 *   neither a refusal nor the upstream explains (or with someone else's answer).
 */
export type Outcome =
  | { kind: 'answered' }
  | { kind: 'refused'; code: string }
  | { kind: 'upstream_error'; status: number; code: string }
  | { kind: 'cut'; reason: string }
  | { kind: 'left' }
  | { kind: 'lost'; reason: string };

export type OutcomeKind = Outcome['kind'];

/** 503s the gateway answers before it accepts a request (README, "Errors"). */
export const DOOR_REFUSALS: ReadonlySet<string> = new Set([
  'queue_unavailable',
  'queue_full',
  'gateway_overloaded',
  'no_workers',
]);

/** The proxy's codes for a failed upstream call or stream. */
const UPSTREAM_CODES: ReadonlySet<string> = new Set([
  'upstream_unavailable',
  'upstream_stream_error',
  'upstream_malformed_chunk',
  'upstream_stream_truncated',
  'upstream_stream_empty',
  'connect_timeout',
  'first_byte_timeout',
  'idle_timeout',
  'total_timeout',
]);

/** The mock upstream's own error bodies carry `mock_<status>` (tools/mock-upstream/src/errors.ts). */
const RELAYED_MOCK_CODE = /^mock_\d{3}$/;

interface ErrorBody {
  error?: { code?: unknown };
}
interface CompletionBody {
  choices?: { message?: { content?: unknown } }[];
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Sorts one HTTP answer; `expectedContent` is what the echo upstream answers this request. */
export function classifyAnswer(status: number, text: string, expectedContent: string): Outcome {
  const body = parse(text);
  if (status === 200) {
    const content = (body as CompletionBody | undefined)?.choices?.[0]?.message?.content;
    return content === expectedContent
      ? { kind: 'answered' }
      : { kind: 'lost', reason: `200 with another answer: ${text.slice(0, 120)}` };
  }
  const rawCode = (body as ErrorBody | undefined)?.error?.code;
  const code = typeof rawCode === 'string' ? rawCode : 'no_code';
  if (status === 503 && DOOR_REFUSALS.has(code)) return { kind: 'refused', code };
  if (UPSTREAM_CODES.has(code) || RELAYED_MOCK_CODE.test(code))
    return { kind: 'upstream_error', status, code };
  return { kind: 'lost', reason: `${status} ${code}` };
}

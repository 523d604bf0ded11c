import { describe, expect, it } from 'vitest';
import { OPENAI_STREAM_ERRORS } from '../src/chat/openai-stream-errors.js';
import { isProxyError, type ProxyError, UpstreamReportedError } from '../src/fold/errors.js';
import { chatCompletionsApi, responsesApi } from '../src/index.js';
import { foldSse } from './fold-through-sink.js';
import { bodyOf, rejectionOf, sseOf } from './sse-fixtures.js';

// The OpenAI dialect's in-stream errors: a chat chunk `{"error": {...}}` and a Responses `error`
// event are mapped by one table to the status, type and code OpenAI answers without streaming.
// Each row below is written out by hand (not read from the map), and every name the map knows has
// one, so an entry added or changed without its row fails here.

type Row = [status: number, type: string, code: string | null];

/** Names the answer passes on as its code, by the status and type OpenAI answers them with. */
const PASSED_ON: [status: number, type: string, names: string[]][] = [
  [
    400,
    'invalid_request_error',
    [
      'invalid_request_error',
      'invalid_prompt',
      'context_length_exceeded',
      'invalid_image',
      'invalid_image_format',
      'invalid_base64_image',
      'invalid_image_url',
      'image_too_large',
      'image_too_small',
      'image_parse_error',
      'image_content_policy_violation',
      'invalid_image_mode',
      'image_file_too_large',
      'unsupported_image_media_type',
      'empty_image_file',
      'failed_to_download_image',
      'image_file_not_found',
    ],
  ],
  [401, 'authentication_error', ['invalid_api_key', 'authentication_error']],
  [403, 'permission_error', ['permission_error']],
  [404, 'invalid_request_error', ['model_not_found', 'not_found_error']],
  [429, 'rate_limit_error', ['rate_limit_exceeded', 'rate_limit_error', 'insufficient_quota']],
  [500, 'server_error', ['server_error']],
  [503, 'service_unavailable', ['overloaded', 'overloaded_error', 'unavailable_error']],
  [504, 'timeout_error', ['vector_store_timeout']],
];
const typeOf = (status: number) => PASSED_ON.find(([answered]) => answered === status)?.[1] ?? 'none';

/** A numeric code is the HTTP status: the class of that status, and no code but OpenAI's for 429. */
const BARE_STATUSES = [400, 401, 403, 404, 429, 500, 503, 504].map((status): [string, Row] => [
  String(status),
  [status, typeOf(status), status === 429 ? 'rate_limit_exceeded' : null],
]);

/** What each name the map knows answers, given as the error's `code` (a number for a status). */
const EXPECTED: Record<string, Row> = {
  ...Object.fromEntries(
    PASSED_ON.flatMap(([status, type, names]) =>
      names.map((name): [string, Row] => [name, [status, type, name]]),
    ),
  ),
  ...Object.fromEntries(BARE_STATUSES),
  '413': [413, 'invalid_request_error', null],
  // llama.cpp's name for OpenAI's context_length_exceeded.
  exceed_context_size_error: [400, 'invalid_request_error', 'context_length_exceeded'],
};

const ROLE = {
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }],
};
const CREATED = { type: 'response.created', response: { id: 'resp_1', status: 'in_progress', output: [] } };

/** The two ways the dialect reports `error`: a chat error chunk and a Responses error event. */
const FOLDS: [string, (error: Record<string, unknown>) => Promise<ProxyError>][] = [
  ['a chat error chunk', (error) => failure(foldSse(chatCompletionsApi, bodyOf(sseOf(ROLE, { error }))))],
  [
    'a Responses error event',
    (error) => failure(foldSse(responsesApi, bodyOf(sseOf(CREATED, { type: 'error', error })))),
  ],
];

async function failure(folding: Promise<unknown>): Promise<ProxyError> {
  const error = await rejectionOf(folding);
  if (!isProxyError(error)) throw new Error(`expected a ProxyError, got ${String(error)}`);
  return error;
}

/** The error object naming the failure by `name`: a word as OpenAI's `code`, a status as a number. */
const named = (name: string) => ({
  message: 'It went wrong',
  code: /^\d+$/.test(name) ? Number(name) : name,
});

describe.each(FOLDS)('%s', (_label, fail) => {
  it('has a row for every name the map knows, and no other', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(OPENAI_STREAM_ERRORS).sort());
  });

  it.each(Object.entries(EXPECTED))(
    'named %s: the status, type and code OpenAI gives it',
    async (name, row) => {
      const error = await fail(named(name));
      expect(error).toBeInstanceOf(UpstreamReportedError);
      expect(error.code).toBe('upstream_stream_error');
      expect([error.status, error.toBody().error.type, error.toBody().error.code]).toEqual(row);
      expect(error.message).toContain('It went wrong');
    },
  );

  it.each([
    ['a code nobody knows', { code: 'brand_new', message: 'hm' }, '[brand_new]'],
    ['a status nobody maps', { code: 502, message: 'hm' }, '[502]'],
    ['no name at all', { message: 'hm' }, 'hm'],
  ])('%s is the 502 upstream_stream_error, naming it', async (_case, error, mentions) => {
    const thrown = await fail(error);
    expect([thrown.status, thrown.type, thrown.toBody().error.code]).toEqual([
      502,
      'upstream_error',
      'upstream_stream_error',
    ]);
    expect(thrown.message).toContain(mentions);
  });

  it('reads the code, then the type, then a numeric code', async () => {
    const known = await fail({
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
      message: 'x',
    });
    expect([known.status, known.toBody().error.code]).toEqual([400, 'context_length_exceeded']);
    // Groq names a failure OpenAI does not: its type still says what class it is.
    const groq = await fail({ type: 'invalid_request_error', code: 'tool_use_failed', message: 'x' });
    expect([groq.status, groq.toBody().error.code]).toEqual([400, 'tool_use_failed']);
    // vLLM: a Python class name as the type, the HTTP status as the code.
    const vllm = await fail({ type: 'BadRequestError', code: 400, message: 'x', param: 'messages' });
    expect([vllm.status, vllm.toBody().error.code, vllm.param]).toEqual([400, null, 'messages']);
  });
});

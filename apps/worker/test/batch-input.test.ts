import { Readable } from 'node:stream';
import { type BatchInputError, chatCompletionsApi, completionsApi, responsesApi } from '@openai-proxy/shared';
import { describe, expect, it } from 'vitest';
import { type BatchLine, batchLines, checkBatchInput, MAX_BATCH_LINES } from '../src/batch/batch-input.js';

// The check of a batch's input file before any of its requests runs, with the real API
// descriptors, and the reading of the lines of a file found sound.

const CHAT = '/v1/chat/completions';
const MODEL = 'gpt-4o-mini';
const chatBody = (model = MODEL) => ({ model, messages: [{ role: 'user', content: 'Hello' }] });

/** One line of an input file for the chat endpoint; `fields` replace or add to the request. */
const line = (customId: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: CHAT, body: chatBody(), ...fields });

/** A file of `lines`, each ended by a newline. */
const file = (...lines: string[]) => Readable.from([lines.map((text) => `${text}\n`).join('')]);

const check = (source: Readable, endpoint = CHAT, api = chatCompletionsApi) =>
  checkBatchInput(source, endpoint, api);

/** The problems of a file, which must have some. */
async function problemsOf(source: Readable, endpoint = CHAT, api = chatCompletionsApi) {
  const checked = await check(source, endpoint, api);
  if (!('errors' in checked)) throw new Error(`expected problems, got ${JSON.stringify(checked)}`);
  return checked.errors;
}

/** The one problem of a file, without its message (checked to be there). */
async function problemOf(source: Readable, endpoint = CHAT, api = chatCompletionsApi) {
  const errors = await problemsOf(source, endpoint, api);
  expect(errors).toHaveLength(1);
  const [{ message, ...rest }] = errors as [BatchInputError];
  expect(message).toEqual(expect.any(String));
  expect(message.length).toBeGreaterThan(0);
  return rest;
}

async function linesOf(source: Readable): Promise<BatchLine[]> {
  const lines: BatchLine[] = [];
  for await (const each of batchLines(source)) lines.push(each);
  return lines;
}

describe('a sound file', () => {
  it('gives the number of requests and their model', async () => {
    expect(await check(file(line('a'), line('b'), line('c')))).toEqual({ total: 3, model: MODEL });
  });

  it('skips blank lines but counts them, with CRLF line endings too', async () => {
    // A CR at the end of one chunk and its LF at the start of the next are still one line end.
    const chunks = () =>
      Readable.from([`${line('a')}\r\n`, '\r\n', `   \r\n${line('b')}\r`, `\n\n${line('c')}`]);
    expect(await check(chunks())).toEqual({ total: 3, model: MODEL });
    expect(await linesOf(chunks())).toEqual([
      { line: 1, customId: 'a', body: chatBody() },
      { line: 4, customId: 'b', body: chatBody() },
      { line: 6, customId: 'c', body: chatBody() },
    ]);
    // The line numbers of problems are the same physical ones.
    const bad = Readable.from([`${line('a')}\r\n\r\n`, `${line('a')}\r\n`]);
    expect(await problemOf(bad)).toEqual({ code: 'duplicate_custom_id', line: 3, param: 'custom_id' });
  });

  it('reads every request in order, its custom_id and body as written', async () => {
    const bodies = [chatBody(), { ...chatBody(), temperature: 0.5 }, { ...chatBody(), max_tokens: 7 }];
    const source = () =>
      file(
        line('x', { body: bodies[0] }),
        '',
        line('y', { body: bodies[1] }),
        line('z', { body: bodies[2] }),
      );
    expect(await check(source())).toEqual({ total: 3, model: MODEL });
    expect(await linesOf(source())).toEqual([
      { line: 1, customId: 'x', body: bodies[0] },
      { line: 3, customId: 'y', body: bodies[1] },
      { line: 4, customId: 'z', body: bodies[2] },
    ]);
  });

  it.each([
    { api: responsesApi, endpoint: '/v1/responses', body: { model: 'o3', input: 'Hello' } },
    { api: completionsApi, endpoint: '/v1/completions', body: { model: 'babbage-002', prompt: ['a', 'b'] } },
  ])('is checked against the API of its endpoint: $endpoint', async ({ api, endpoint, body }) => {
    const request = (customId: string) =>
      JSON.stringify({ custom_id: customId, method: 'POST', url: endpoint, body });
    expect(await check(file(request('1'), request('2')), endpoint, api)).toEqual({
      total: 2,
      model: body.model,
    });
  });
});

describe('the problems of a file, by line', () => {
  it('invalid_json_line: a line that is not JSON, and JSON that is not an object', async () => {
    const errors = await problemsOf(
      file(line('a'), '{"custom_id": "b",', '[1, 2]', '"text"', 'null', line('f')),
    );
    expect(errors.map(({ code, line, param }) => ({ code, line, param }))).toEqual([
      { code: 'invalid_json_line', line: 2, param: null },
      { code: 'invalid_json_line', line: 3, param: null },
      { code: 'invalid_json_line', line: 4, param: null },
      { code: 'invalid_json_line', line: 5, param: null },
    ]);
  });

  it('missing_required_parameter: custom_id missing or empty', async () => {
    const withoutId = JSON.stringify({ method: 'POST', url: CHAT, body: chatBody() });
    const errors = await problemsOf(file(line('a'), withoutId, line('')));
    expect(errors.map(({ code, line, param }) => ({ code, line, param }))).toEqual([
      { code: 'missing_required_parameter', line: 2, param: 'custom_id' },
      { code: 'missing_required_parameter', line: 3, param: 'custom_id' },
    ]);
  });

  it('missing_required_parameter: body missing or not an object', async () => {
    const withoutBody = JSON.stringify({ custom_id: 'b', method: 'POST', url: CHAT });
    const errors = await problemsOf(file(line('a'), withoutBody, line('c', { body: [chatBody()] })));
    expect(errors.map(({ code, line, param }) => ({ code, line, param }))).toEqual([
      { code: 'missing_required_parameter', line: 2, param: 'body' },
      { code: 'missing_required_parameter', line: 3, param: 'body' },
    ]);
  });

  it('missing_required_parameter: a body without a model, named body.model', async () => {
    const { model: _, ...withoutModel } = chatBody();
    expect(await problemOf(file(line('a'), line('b', { body: withoutModel })))).toEqual({
      code: 'missing_required_parameter',
      line: 2,
      param: 'body.model',
    });
  });

  it('duplicate_custom_id: the second use of an id, not the first', async () => {
    expect(await problemOf(file(line('a'), line('b'), line('a')))).toEqual({
      code: 'duplicate_custom_id',
      line: 3,
      param: 'custom_id',
    });
  });

  it('invalid_method: anything but POST, or none', async () => {
    const withoutMethod = JSON.stringify({ custom_id: 'c', url: CHAT, body: chatBody() });
    const errors = await problemsOf(
      file(line('a', { method: 'GET' }), line('b', { method: 'post' }), withoutMethod),
    );
    expect(errors.map(({ code, line, param }) => ({ code, line, param }))).toEqual([
      { code: 'invalid_method', line: 1, param: 'method' },
      { code: 'invalid_method', line: 2, param: 'method' },
      { code: 'invalid_method', line: 3, param: 'method' },
    ]);
  });

  it("mismatched_endpoint: a url that is not the batch's endpoint", async () => {
    const problem = await problemOf(file(line('a'), line('b', { url: '/v1/responses' })));
    expect(problem).toEqual({ code: 'mismatched_endpoint', line: 2, param: 'url' });
  });

  it('mismatched_model: a model other than that of the first sound line', async () => {
    const errors = await problemsOf(file(line('a'), line('b', { body: chatBody('gpt-4o') }), line('c')));
    expect(errors).toEqual([
      {
        code: 'mismatched_model',
        line: 2,
        param: 'body.model',
        message: expect.stringMatching(/gpt-4o-mini.*gpt-4o\b/),
      },
    ]);
    // A line with another problem does not set the model the others must use.
    const afterBad = file(line('a', { method: 'GET', body: chatBody('other') }), line('b'), line('c'));
    expect(await problemOf(afterBad)).toEqual({ code: 'invalid_method', line: 1, param: 'method' });
  });

  it("the API's own check: chat messages that are empty", async () => {
    const problem = await problemOf(file(line('a'), line('b', { body: { model: MODEL, messages: [] } })));
    expect(problem).toEqual({ code: 'empty_array', line: 2, param: 'body.messages' });
  });

  it("the API's own check: a responses body without input, and a completions prompt of the wrong type", async () => {
    const responses = (customId: string, body: Record<string, unknown>) =>
      JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/responses', body });
    const withoutInput = file(responses('a', { model: 'o3', input: 'x' }), responses('b', { model: 'o3' }));
    expect(await problemOf(withoutInput, '/v1/responses', responsesApi)).toEqual({
      code: 'missing_required_parameter',
      line: 2,
      param: 'body.input',
    });
    const badPrompt = JSON.stringify({
      custom_id: 'a',
      method: 'POST',
      url: '/v1/completions',
      body: { model: 'babbage-002', prompt: { text: 'x' } },
    });
    expect(await problemOf(file(badPrompt), '/v1/completions', completionsApi)).toEqual({
      code: 'invalid_type',
      line: 1,
      param: 'body.prompt',
    });
  });

  it('lists every problem of a file, each once, in line order', async () => {
    const errors = await problemsOf(
      file(
        line('a'),
        'not json',
        line('a'),
        line('c', { method: 'GET' }),
        line('d'),
        line('e', { url: '/v1/x' }),
      ),
    );
    expect(errors.map(({ code, line }) => [code, line])).toEqual([
      ['invalid_json_line', 2],
      ['duplicate_custom_id', 3],
      ['invalid_method', 4],
      ['mismatched_endpoint', 6],
    ]);
  });
});

describe('the problems of a whole file', () => {
  it('empty_file: no lines, or only blank ones', async () => {
    for (const source of [Readable.from([]), Readable.from(['\n\r\n   \n\t\n'])])
      expect(await problemOf(source)).toEqual({ code: 'empty_file', line: null, param: null });
  });

  it('too_many_tasks: one line past 50,000 (and 50,000 are fine)', async () => {
    expect(MAX_BATCH_LINES).toBe(50_000);
    const lines = Array.from({ length: MAX_BATCH_LINES + 1 }, (_, index) => line(`r${index}`));
    const atLimit = lines.slice(0, MAX_BATCH_LINES);
    expect(await check(Readable.from([`${atLimit.join('\n')}\n`]))).toEqual({ total: 50_000, model: MODEL });
    expect(await problemOf(Readable.from([`${lines.join('\n')}\n`]))).toEqual({
      code: 'too_many_tasks',
      line: null,
      param: null,
    });
  });

  it('says a file is too long even when it lists 100 other problems', async () => {
    const lines = Array.from({ length: MAX_BATCH_LINES + 1 }, (_, index) =>
      index < 150 ? line(`r${index}`, { method: 'GET' }) : line(`r${index}`),
    );
    const errors = await problemsOf(Readable.from([`${lines.join('\n')}\n`]));
    expect(errors).toHaveLength(101);
    expect(errors.at(-1)).toMatchObject({ code: 'too_many_tasks', line: null });
  });

  it('a custom_id that is not a string is of the wrong type', async () => {
    expect(
      await problemOf(file(line('a'), JSON.stringify({ ...JSON.parse(line('b')), custom_id: 42 }))),
    ).toEqual({
      code: 'invalid_type',
      line: 2,
      param: 'custom_id',
    });
  });

  it('lists the first 100 problems only', async () => {
    const lines = Array.from({ length: 150 }, (_, index) => line(`r${index}`, { method: 'GET' }));
    const errors = await problemsOf(file(...lines));
    expect(errors).toHaveLength(100);
    expect(errors[0]).toMatchObject({ code: 'invalid_method', line: 1 });
    expect(errors[99]).toMatchObject({ code: 'invalid_method', line: 100 });
  });
});

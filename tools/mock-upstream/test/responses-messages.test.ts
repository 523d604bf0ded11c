import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../src/index.js';

// /v1/responses and /v1/messages: echoed in each API's own stream format (the default), and
// answered with whatever a test enqueues (a recorded stream to replay, a status, a drop).

let mock: MockUpstream;

beforeEach(async () => {
  mock = await startMockUpstream({ port: 0, name: 'apis' });
});

afterEach(async () => {
  await mock.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

interface NamedEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Splits an SSE body into `event:` + `data:` pairs, checking the two name the same type. */
function namedEvents(text: string): NamedEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [eventLine, dataLine, ...rest] = block.split('\n');
      expect(rest).toEqual([]);
      expect(eventLine?.startsWith('event: ')).toBe(true);
      expect(dataLine?.startsWith('data: ')).toBe(true);
      const event = eventLine?.slice('event: '.length) ?? '';
      const data = JSON.parse(dataLine?.slice('data: '.length) ?? '') as Record<string, unknown>;
      expect(data.type).toBe(event);
      return { event, data };
    });
}

const RESPONSES_BODY = {
  model: 'gpt-test',
  stream: true,
  instructions: 'be brief',
  input: [
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'an answer' },
    { role: 'user', content: [{ type: 'input_text', text: 'hello there world' }] },
  ],
};

const MESSAGES_BODY = {
  model: 'claude-test',
  max_tokens: 64,
  stream: true,
  system: 'be brief',
  messages: [
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'an answer' },
    { role: 'user', content: [{ type: 'text', text: 'hello there world' }] },
  ],
};

describe('/v1/responses echo', () => {
  it('streams the Responses events in order, numbered, the text one delta per word, then usage', async () => {
    const res = await post('/v1/responses', RESPONSES_BODY);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = namedEvents(await res.text());
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(4).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_e, i) => i));
    const deltas = events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta);
    expect(deltas).toEqual(['echo:', ' hello', ' there', ' world']);
    const text = 'echo: hello there world';
    expect(events[8]?.data).toMatchObject({ text, output_index: 0, content_index: 0 });
    const created = events[0]?.data.response as Record<string, unknown>;
    expect(created).toMatchObject({
      object: 'response',
      status: 'in_progress',
      model: 'gpt-test',
      output: [],
    });
    expect(created.id).toMatch(/^resp_mock_\d+$/);
    const itemId = (events[2]?.data.item as { id: string } | undefined)?.id;
    expect(itemId).toEqual(expect.any(String));
    for (const event of events.slice(3, -2)) expect(event.data.item_id).toBe(itemId);
    const done = events.at(-1)?.data.response;
    expect(done).toMatchObject({
      id: created.id,
      status: 'completed',
      output: [
        {
          id: itemId,
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text, annotations: [] }],
        },
      ],
      // prompt: "first question" + "an answer" + "hello there world" = 7 words
      usage: { input_tokens: 7, output_tokens: 4, total_tokens: 11 },
    });
    expect(mock.stats.byPath).toEqual({ '/v1/responses': 1 });
  });

  it('echoes a string input, and generates `words` words', async () => {
    const res = await post('/v1/responses', { model: 'm', stream: true, input: 'say this' });
    const deltas = namedEvents(await res.text()).filter((e) => e.event === 'response.output_text.delta');
    expect(deltas.map((e) => e.data.delta).join('')).toBe('echo: say this');
    mock.enqueue({ kind: 'echo', words: 3, chunkDelayMs: 1 });
    const generated = namedEvents(await (await post('/v1/responses', RESPONSES_BODY)).text());
    expect(generated.find((e) => e.event === 'response.output_text.done')?.data.text).toBe('w1 w2 w3');
  });
});

describe('/v1/messages echo', () => {
  it('streams the Messages events, the text one text_delta per word, then end_turn and usage', async () => {
    const res = await post('/v1/messages', MESSAGES_BODY);
    expect(res.status).toBe(200);
    const events = namedEvents(await res.text());
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array(4).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]?.data.message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: [],
      usage: { input_tokens: 7 },
    });
    expect((events[0]?.data.message as { id: string } | undefined)?.id).toMatch(/^msg_mock_\d+$/);
    expect(events[1]?.data).toMatchObject({ index: 0, content_block: { type: 'text', text: '' } });
    const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta);
    expect(deltas.map((delta) => (delta as { type: string }).type)).toEqual(Array(4).fill('text_delta'));
    expect(deltas.map((delta) => (delta as { text: string }).text).join('')).toBe('echo: hello there world');
    expect(events.at(-2)?.data).toMatchObject({
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 4 },
    });
  });

  it('drops the connection after some events, before message_stop', async () => {
    mock.enqueue({ kind: 'drop', afterChunks: 4 });
    const res = await post('/v1/messages', MESSAGES_BODY);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(mock.stats).toMatchObject({ aborted: 0, completed: 0 });
  });
});

describe.each(['/v1/responses', '/v1/messages'])('%s with enqueued behaviours', (path) => {
  it('replays an enqueued stream byte for byte', async () => {
    const sse = 'event: ping\ndata: {"type":"ping"}\n\n';
    mock.enqueue({ kind: 'replay', sse, sliceBytes: 3 });
    const res = await post(path, { model: 'm', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(await res.text()).toBe(sse);
  });

  it('answers an enqueued status', async () => {
    mock.enqueue({ kind: 'status', status: 529, body: '{"type":"error"}' });
    const res = await post(path, { model: 'm', stream: true });
    expect(res.status).toBe(529);
    expect(await res.text()).toBe('{"type":"error"}');
  });

  it('refuses a non-stream request, as every route of a stream-only provider does', async () => {
    mock.enqueue({ kind: 'replay', sse: 'data: {}\n\n' });
    const res = await post(path, { model: 'm' });
    expect(res.status).toBe(400);
  });
});

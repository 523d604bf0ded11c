import { describe, expect, it } from 'vitest';
import {
  failureOfErrorBody,
  isBackgroundId,
  newBackgroundId,
  queuedResponse,
  responseSoFar,
} from '../src/background/background-objects.js';
import { eventData, type StoredEvent } from '../src/background/background-store.js';

// The response objects of a background response: made at creation, folded while it runs, failed.

const stored = (events: Record<string, unknown>[]): StoredEvent[] =>
  events.map((event, sequence) => ({ sequence, data: eventData(event) }));

const message = (text: string) => ({
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  status: 'in_progress',
  content: [{ type: 'output_text', text, annotations: [] }],
});

const generation = (text: string) => [
  {
    type: 'response.created',
    response: { id: 'resp_bg_x', object: 'response', status: 'in_progress', model: 'm', output: [] },
  },
  { type: 'response.output_item.added', output_index: 0, item: { ...message(''), content: [] } },
  {
    type: 'response.content_part.added',
    output_index: 0,
    content_index: 0,
    part: { type: 'output_text', text: '', annotations: [] },
  },
  { type: 'response.output_text.delta', output_index: 0, content_index: 0, delta: text },
];

describe('background objects', () => {
  it('ids are ours only in our own form', () => {
    const id = newBackgroundId();
    expect(isBackgroundId(id)).toBe(true);
    expect(newBackgroundId()).not.toBe(id);
    for (const other of ['resp_67ccd2bed1ec8190b14f964abc054267', `${id}0`, id.toUpperCase(), 'resp_bg_'])
      expect(isBackgroundId(other)).toBe(false);
  });

  it('the queued object echoes the request with OpenAI’s defaults for the rest', () => {
    const object = queuedResponse(
      'resp_bg_q',
      { model: 'm', input: 'x', instructions: 'be brief', temperature: 0.2 },
      5,
    );
    expect(object).toMatchObject({
      id: 'resp_bg_q',
      object: 'response',
      created_at: 5,
      status: 'queued',
      background: true,
      instructions: 'be brief',
      temperature: 0.2,
      output: [],
      usage: null,
      error: null,
      tool_choice: 'auto',
      tools: [],
    });
  });

  it('while it runs, the output so far; after a restart, only the new generation’s', () => {
    const base = queuedResponse('resp_bg_x', { model: 'm', input: 'x' }, 1);
    expect(responseSoFar(base, [], 'queued')).toEqual(base);
    const first = responseSoFar(base, stored(generation('Hello')), 'in_progress');
    expect(first).toMatchObject({ id: 'resp_bg_x', status: 'in_progress', background: true, model: 'm' });
    expect(first.output).toMatchObject([
      { type: 'message', content: [{ type: 'output_text', text: 'Hello' }] },
    ]);
    const restarted = responseSoFar(
      base,
      stored([...generation('Hello wor'), ...generation('Hi')]),
      'in_progress',
    );
    expect(restarted.output).toMatchObject([{ content: [{ text: 'Hi' }] }]);
    // An error event ends what counts: the output before it.
    const broken = [
      ...generation('Partial'),
      { type: 'error', code: 'server_error', message: 'boom' },
      ...generation('x').slice(3),
    ];
    expect(responseSoFar(base, stored(broken), 'cancelled').output).toMatchObject([
      { content: [{ text: 'Partial' }] },
    ]);
  });

  it('a failure is read from an error body in OpenAI’s shape, or named by its status', () => {
    expect(
      failureOfErrorBody(
        '{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}',
        429,
      ),
    ).toEqual({
      code: 'insufficient_quota',
      message: 'quota',
    });
    expect(
      failureOfErrorBody('{"error":{"message":"bad","type":"invalid_request_error","code":null}}', 400),
    ).toEqual({
      code: 'invalid_request_error',
      message: 'bad',
    });
    expect(failureOfErrorBody('<html>Bad gateway</html>', 502)).toEqual({
      code: 'server_error',
      message: 'The upstream answered 502.',
    });
  });
});

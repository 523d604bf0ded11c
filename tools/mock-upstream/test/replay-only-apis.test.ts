import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../src/index.js';

// /v1/responses and /v1/messages: the mock cannot make their events up, so it answers them only
// with what a test enqueued (a recorded stream to replay, a status, a hang).

let mock: MockUpstream;

beforeEach(async () => {
  mock = await startMockUpstream({ port: 0, name: 'replay-only' });
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

describe.each(['/v1/responses', '/v1/messages'])('%s', (path) => {
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

  it('refuses to make events up: the echo default is a 501', async () => {
    const res = await post(path, { model: 'm', stream: true });
    expect(res.status).toBe(501);
    expect(mock.stats.byPath).toEqual({ [path]: 1 });
  });
});

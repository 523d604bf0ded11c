import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionsApi } from '../src/apis/chat-completions-api.js';
import { ChatCompletionFold } from '../src/chat/chat-fold.js';
import type { UpstreamConfig } from '../src/config/schema.js';
import { errors, ProxyError } from '../src/fold/errors.js';
import type { FoldedAnswer, StreamFolder } from '../src/fold/stream-folder.js';
import { FoldingSink } from '../src/upstream/body-sinks.js';
import { streamUpstream, toUpstreamError } from '../src/upstream/call-upstream.js';
import { completeFromStream } from '../src/upstream/complete-from-stream.js';
import { foldBody } from '../src/upstream/routed-body.js';
import { failureDetail, failureKind, isUpstreamFailure } from '../src/upstream/upstream-failure.js';
import { UpstreamSet } from '../src/upstream/upstream-set.js';

// Which errors count against an upstream, with the errors undici and Node really throw: the
// upstream's failures are told to the client by kind, their address kept for the log; anything
// else is a bug of the proxy, which reaches the caller as it was thrown.

const TIMEOUTS = { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 };

/** A TCP server that answers every connection with `reply` (raw bytes), then closes it. */
async function rawServer(reply: string): Promise<{ url: string; server: NetServer }> {
  const server = createNetServer((socket) => {
    socket.once('data', () => socket.end(reply));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** What one GET to `url` fails with. */
async function failureOf(url: string): Promise<unknown> {
  const pool = new Pool(url);
  try {
    const response = await pool.request({ path: '/', method: 'GET' });
    await response.body.text();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await pool.destroy();
  }
}

async function closedPort(): Promise<number> {
  const { server, url } = await rawServer('');
  server.close();
  await once(server, 'close');
  return Number(new URL(url).port);
}

describe('isUpstreamFailure', () => {
  it('counts what the network, undici and the proxy say about a call against the upstream', async () => {
    const refused = await failureOf(`http://127.0.0.1:${await closedPort()}`);
    expect((refused as { code?: string }).code).toBe('ECONNREFUSED');
    const cut = await rawServer('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort');
    const notHttp = await rawServer('this is not HTTP\r\n\r\n');
    try {
      const socketError = await failureOf(cut.url);
      expect((socketError as { code?: string }).code).toBe('UND_ERR_SOCKET');
      const parserError = await failureOf(notHttp.url);
      expect((parserError as Error).name).toBe('HTTPParserError');
      expect(failureKind(parserError)).toBe('malformed HTTP response');
      for (const failure of [
        refused,
        socketError,
        parserError,
        errors.upstreamStream('bad chunk', 'upstream_malformed_chunk'),
        errors.timeout('idle', 1000),
      ])
        expect(isUpstreamFailure(failure), String(failure)).toBe(true);
    } finally {
      cut.server.close();
      notHttp.server.close();
    }
  });

  it('does not count a bug of the proxy, undici called wrongly included', async () => {
    const misuse = await new Pool('http://127.0.0.1:1')
      .request({ path: 'no-leading-slash', method: 'GET' })
      .catch((error: unknown) => error);
    expect((misuse as { code?: string }).code).toBe('UND_ERR_INVALID_ARG');
    let typeError: unknown;
    try {
      (null as unknown as { x: number }).x;
    } catch (error) {
      typeError = error;
    }
    for (const bug of [
      typeError,
      new RangeError('Maximum call stack size exceeded'),
      new Error('no code'),
      'a string',
      undefined,
      misuse,
      new ProxyError('internal_error', 'unexpected'),
    ])
      expect(isUpstreamFailure(bug), String(bug)).toBe(false);
  });
});

describe('a refused connection', () => {
  it('tells the client its kind and keeps its address for the log', async () => {
    const port = await closedPort();
    const refused = await failureOf(`http://127.0.0.1:${port}`);
    const error = toUpstreamError(refused, TIMEOUTS);
    expect(error.code).toBe('upstream_unavailable');
    expect(error.message).toBe('The upstream connection failed (connection refused, ECONNREFUSED).');
    expect(failureKind(refused)).toBe('connection refused, ECONNREFUSED');
    expect(failureDetail(error)).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(error.cause).toBe(refused);
  });
});

describe('a bug while folding a real upstream stream', () => {
  const config = {
    UPSTREAM_API_URL: ['http://placeholder.invalid/v1/chat/completions'],
    UPSTREAMS_FILE: undefined,
    UPSTREAM_API_KEY: [],
    UPSTREAM_INCLUDE_USAGE: true,
    UPSTREAM_CONNECTIONS: 4,
    UPSTREAM_MAX_TRIES: 3,
    UPSTREAM_STREAM_RETRIES: 1,
    UPSTREAM_CONNECT_TIMEOUT_MS: 1000,
    UPSTREAM_FIRST_BYTE_TIMEOUT_MS: 1000,
    UPSTREAM_IDLE_TIMEOUT_MS: 1000,
    UPSTREAM_TOTAL_TIMEOUT_MS: 0,
    UPSTREAM_COOLDOWN_MS: 60_000,
    UPSTREAM_COOLDOWN_MAX_MS: 60_000,
  } satisfies UpstreamConfig;
  const SSE =
    'data: {"id":"c","choices":[{"index":0,"delta":{"content":"boom"},"finish_reason":null}]}\n\n' +
    'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
  let server: Server;
  let calls = 0;
  let upstreams: UpstreamSet;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      calls += 1;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(SSE);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
    upstreams = new UpstreamSet({ ...config, UPSTREAM_API_URL: [url] });
  });
  afterAll(async () => {
    await upstreams.close();
    server.close();
  });

  const group = () => {
    const found = upstreams.groupFor('m');
    if (found === undefined) throw new Error('no group');
    return found;
  };
  const upstream = () => upstreams.all[0];

  it('arrives from undici stream() as the very error the sink threw, and cools nothing down', async () => {
    const bug = new TypeError('a bug in a fold');
    const folder: StreamFolder<FoldedAnswer> = {
      take: () => {
        throw bug;
      },
      finish: () => ({ body: '', chunks: 0, model: null, usage: null }),
    };
    const before = calls;
    const call = streamUpstream(
      group(),
      {
        endpoint: '/chat/completions',
        method: 'POST',
        headers: {},
        clientCredential: undefined,
        body: '{}',
        signal: new AbortController().signal,
        maxTries: 3,
      },
      () => new FoldingSink(folder),
    );
    await expect(call).rejects.toBe(bug);
    expect(calls - before).toBe(1);
    expect(upstream()?.health.failures).toBe(0);
  });

  it('comes out of completeFromStream unchanged: no stream retry, no cool-down', async () => {
    const bug = new TypeError('a bug in the chat fold');
    const { add } = ChatCompletionFold.prototype;
    ChatCompletionFold.prototype.add = function addWithBug(chunk) {
      if (JSON.stringify(chunk).includes('boom')) throw bug;
      add.call(this, chunk);
    };
    const before = calls;
    try {
      const answer = completeFromStream(
        group(),
        { maxTries: 3, streamRetries: 1, timeouts: TIMEOUTS },
        chatCompletionsApi,
        { kind: 'chat', body: foldBody({ model: 'm', messages: [] }), headers: {}, requestId: 'r' },
        new AbortController().signal,
      );
      await expect(answer).rejects.toBe(bug);
    } finally {
      ChatCompletionFold.prototype.add = add;
    }
    expect(calls - before).toBe(1);
    expect(upstream()?.health.failures).toBe(0);
  });
});

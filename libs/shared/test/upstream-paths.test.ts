import { describe, expect, it } from 'vitest';
import { upstreamPathFor, upstreamPaths } from '../src/upstream/upstream-paths.js';

// An upstream is configured by its chat-completions URL or by its base URL (what SDKs, LiteLLM
// and one-api take): both reach chat at `…/chat/completions` and the other endpoints beside it.

const paths = (url: string) => upstreamPaths(new URL(url));
const endpoints = (url: string) =>
  ['/chat/completions', '/responses', '/messages', '/models', '/models/gpt-4o?x=1'].map((path) =>
    upstreamPathFor(paths(url), path),
  );

describe('upstreamPaths', () => {
  it('reads a base URL ending in /v1 (with or without a final slash) like the chat URL below it', () => {
    const expected = [
      '/v1/chat/completions',
      '/v1/responses',
      '/v1/messages',
      '/v1/models',
      '/v1/models/gpt-4o?x=1',
    ];
    expect(endpoints('http://host/v1/chat/completions')).toEqual(expected);
    expect(endpoints('http://host/v1')).toEqual(expected);
    expect(endpoints('http://host/v1/')).toEqual(expected);
  });

  it('keeps a base path and a query: a provider under a prefix, another version number', () => {
    expect(paths('https://ark.example/api/v3')).toEqual({
      chatPath: '/api/v3/chat/completions',
      basePath: '/api/v3',
    });
    expect(paths('https://host/openai/v1?api-version=2')).toEqual({
      chatPath: '/openai/v1/chat/completions?api-version=2',
      basePath: '/openai/v1',
    });
    expect(paths('https://host/api/paas/v4/chat/completions')).toEqual({
      chatPath: '/api/paas/v4/chat/completions',
      basePath: '/api/paas/v4',
    });
  });

  it('takes any other path as the chat URL, as written', () => {
    expect(paths('http://host/custom/chat')).toEqual({ chatPath: '/custom/chat', basePath: '/v1' });
  });
});

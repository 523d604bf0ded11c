import { ClientGoneError } from '@openai-proxy/shared';
import { describe, expect, it } from 'vitest';
import { RequestContext } from '../src/pipeline/request-context.js';

describe('RequestContext as a ClientDeparture', () => {
  it('tells each listener once, with a ClientGoneError, when the client leaves, and aborts the signal', () => {
    const ctx = new RequestContext('req-1', '/v1/chat/completions');
    const heard: unknown[] = [];
    ctx.onLeave((reason) => heard.push(reason));
    ctx.onLeave((reason) => heard.push(reason));
    const signal = ctx.clientGone;
    ctx.ended(false);
    ctx.ended(false);
    expect(heard).toHaveLength(2);
    expect(heard[0]).toBeInstanceOf(ClientGoneError);
    expect(signal.aborted).toBe(true);
    expect(ctx.left).toBe(true);
  });

  it('tells nobody when the answer was complete, nor a listener that stopped listening', () => {
    const ctx = new RequestContext('req-2', '/v1/chat/completions');
    const heard: string[] = [];
    const stop = ctx.onLeave(() => heard.push('stopped one'));
    ctx.onLeave(() => heard.push('kept one'));
    stop();
    ctx.ended(false);
    expect(heard).toEqual(['kept one']);
    const done = new RequestContext('req-3', '/v1/chat/completions');
    done.onLeave(() => heard.push('after a complete answer'));
    done.ended(true);
    expect(heard).toEqual(['kept one']);
  });

  it('tells a listener at once when the client has already left', () => {
    const ctx = new RequestContext('req-4', '/v1/chat/completions');
    ctx.ended(false);
    const heard: unknown[] = [];
    ctx.onLeave((reason) => heard.push(reason));
    expect(heard).toHaveLength(1);
    expect(heard[0]).toBeInstanceOf(ClientGoneError);
  });
});

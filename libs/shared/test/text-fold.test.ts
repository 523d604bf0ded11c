import { describe, expect, it } from 'vitest';
import { TextCompletionFold } from '../src/chat/text-fold.js';
import {
  type CompletionApi,
  chatCompletionsApi,
  completionsApi,
  isProxyError,
  type TextCompletion,
} from '../src/index.js';
import { foldSse } from './fold-through-sink.js';

/**
 * A legacy /v1/completions stream written by hand in the shape gpt-3.5-turbo-instruct sends
 * (`object: "text_completion"` on every chunk, `logprobs: 1`, `n: 2`, include_usage): there is no
 * recorded fixture for it. Choice 1 runs ahead of choice 0, and a trailing `usage: null` follows.
 */
const head = {
  id: 'cmpl-8xYz',
  object: 'text_completion',
  created: 1_700_000_000,
  model: 'gpt-3.5-turbo-instruct',
};

function piece(index: number, text: string, offset: number, logprob: number, finish: string | null = null) {
  return {
    ...head,
    choices: [
      {
        text,
        index,
        logprobs: {
          tokens: [text],
          token_logprobs: [logprob],
          top_logprobs: [{ [text]: logprob }],
          text_offset: [offset],
        },
        finish_reason: finish,
      },
    ],
  };
}

const STREAM = [
  piece(1, 'Hi', 10, -0.5),
  piece(0, 'Hello', 10, -0.1),
  piece(0, ' world', 15, -0.2),
  piece(1, '!', 12, -0.3, 'length'),
  { ...head, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] },
  { ...head, choices: [], usage: { prompt_tokens: 4, completion_tokens: 4, total_tokens: 8 } },
  { ...head, choices: [], usage: null },
];

const encoder = new TextEncoder();

function sse(events: unknown[], done = true): string {
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');
}

function* bodyOf(text: string): Generator<Uint8Array> {
  // Small reads, as a socket would deliver them.
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length; at += 13) yield bytes.subarray(at, at + 13);
}

describe('legacy completions through FoldingSink', () => {
  it('folds text_completion chunks into one text_completion', async () => {
    const answer = await foldSse(completionsApi, bodyOf(sse(STREAM)));
    const completion = JSON.parse(answer.body) as TextCompletion;
    expect(completion).toEqual({
      id: 'cmpl-8xYz',
      object: 'text_completion',
      created: 1_700_000_000,
      model: 'gpt-3.5-turbo-instruct',
      choices: [
        {
          text: 'Hello world',
          index: 0,
          logprobs: {
            tokens: ['Hello', ' world'],
            token_logprobs: [-0.1, -0.2],
            top_logprobs: [{ Hello: -0.1 }, { ' world': -0.2 }],
            text_offset: [10, 15],
          },
          finish_reason: 'stop',
        },
        {
          text: 'Hi!',
          index: 1,
          logprobs: {
            tokens: ['Hi', '!'],
            token_logprobs: [-0.5, -0.3],
            top_logprobs: [{ Hi: -0.5 }, { '!': -0.3 }],
            text_offset: [10, 12],
          },
          finish_reason: 'length',
        },
      ],
      usage: { prompt_tokens: 4, completion_tokens: 4, total_tokens: 8 },
    });
    expect(Object.keys(completion)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    expect(Object.keys(completion.choices[0] ?? {})).toEqual(['text', 'index', 'logprobs', 'finish_reason']);
    expect(answer).toMatchObject({
      chunks: STREAM.length,
      model: 'gpt-3.5-turbo-instruct',
      usage: { prompt_tokens: 4, completion_tokens: 4 },
    });
  });

  it('leaves logprobs null when none came, and keeps system_fingerprint and unknown choice fields', async () => {
    const plain = [
      {
        ...head,
        system_fingerprint: 'fp_x',
        choices: [{ text: 'a', index: 0, logprobs: null, finish_reason: null }],
      },
      {
        ...head,
        choices: [{ text: 'b', index: 0, logprobs: null, finish_reason: 'stop', stop_reason: null }],
      },
    ];
    const completion = JSON.parse((await foldSse(completionsApi, bodyOf(sse(plain)))).body) as TextCompletion;
    expect(completion.choices).toEqual([
      { text: 'ab', index: 0, logprobs: null, finish_reason: 'stop', stop_reason: null },
    ]);
    expect(completion.system_fingerprint).toBe('fp_x');
    expect(completion.usage).toBeNull();
  });

  it('is truncated when the stream stops early without [DONE]', async () => {
    const error = await foldSse(completionsApi, bodyOf(sse(STREAM.slice(0, 3), false))).catch(
      (caught: unknown) => caught,
    );
    expect(isProxyError(error) && error.code).toBe('upstream_stream_truncated');
  });

  it('uses the text fold, not the chat fold, for kind "completion"', async () => {
    const objectOf = async (api: CompletionApi): Promise<unknown> =>
      (JSON.parse((await foldSse(api, bodyOf(sse(STREAM)))).body) as { object: unknown }).object;
    expect(await objectOf(chatCompletionsApi)).toBe('chat.completion');
    expect(await objectOf(completionsApi)).toBe('text_completion');
  });
});

describe('TextCompletionFold', () => {
  it('counts chunks and knows when every choice has finished', () => {
    const fold = new TextCompletionFold();
    expect(fold.isFinished()).toBe(false);
    fold.add(STREAM[0] ?? {});
    fold.add(STREAM[1] ?? {});
    expect(fold.isFinished()).toBe(false);
    for (const chunk of STREAM.slice(2)) fold.add(chunk);
    expect(fold.isFinished()).toBe(true);
    expect(fold.chunkCount).toBe(STREAM.length);
    expect(fold.result().choices.map((c) => c.text)).toEqual(['Hello world', 'Hi!']);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A directory of UPSTREAMS_FILE versions for one test file, removed at the end. */
export function upstreamsFileDir(): { write(name: string, content: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'oaip-upstreams-'));
  return {
    write(name, content) {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** SSE text of a chat stream that reports usage whether or not it was asked to (some providers do). */
export function chatStreamWithUsage(model: string, text: string): string {
  const chunk = (rest: string) =>
    `data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1,"model":"${model}",${rest}}\n\n`;
  return (
    chunk('"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]') +
    chunk(`"choices":[{"index":0,"delta":{"content":${JSON.stringify(text)}},"finish_reason":null}]`) +
    chunk('"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]') +
    chunk('"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}') +
    'data: [DONE]\n\n'
  );
}

import type { OutgoingHttpHeaders } from 'node:http';

export const DONE_EVENT = 'data: [DONE]\n\n';

export const SSE_HEADERS: OutgoingHttpHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
};

/** One SSE event carrying an already-serialised JSON payload. */
export function dataEvent(json: string): string {
  return `data: ${json}\n\n`;
}

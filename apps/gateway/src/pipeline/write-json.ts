import type { ServerResponse } from 'node:http';

/** Writes a finished JSON body with its status, straight to Node's response (no Express send()). */
export function writeJson(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES, type ErrorCode, type OpenAIErrorBody } from '@openai-proxy/shared';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import { rejectionReason } from '../observability/rejection-reason.js';

interface Refusal {
  reason: string;
  code: ErrorCode;
  message: string;
}

function refusalFor(code: unknown): Refusal {
  if (code === 'HPE_HEADER_OVERFLOW')
    return {
      reason: 'Request Header Fields Too Large',
      code: 'request_headers_too_large',
      message: 'The request line and headers are larger than the proxy accepts.',
    };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return {
      reason: 'Request Timeout',
      code: 'request_timeout',
      message: 'The request was not received in time.',
    };
  return { reason: 'Bad Request', code: 'bad_http_request', message: 'The request is not valid HTTP.' };
}

/**
 * Answers what Node's HTTP parser refuses before Express sees a request (head too large,
 * head or body too slow, malformed HTTP) in OpenAI's error shape instead of an empty
 * response, counts it, and closes the connection.
 */
export function answerClientErrors(server: Server, metrics: GatewayMetrics): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
      socket.destroy();
      return;
    }
    const refusal = refusalFor(error.code);
    const { status, type } = ERROR_CODES[refusal.code];
    metrics.rejected.inc({ reason: rejectionReason(status) });
    const body: OpenAIErrorBody = {
      error: { message: refusal.message, type, param: null, code: refusal.code },
    };
    const json = JSON.stringify(body);
    // Destroyed once written: a slow client must not keep even a half-closed socket.
    socket.once('finish', () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${status} ${refusal.reason}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  });
}

import type { Response } from 'express';

/**
 * NONSTREAM_KEEPALIVE_MS: a non-stream answer that takes long gets its 200 status early and
 * then a space every interval, so load balancers that drop idle responses (often after 60 s)
 * keep the connection. JSON allows leading whitespace, so clients parse the body as usual.
 * The price: once the status is sent, an error can only travel in the body (still an
 * OpenAI-shaped `{"error":…}`), with status 200.
 */
export class KeepaliveWriter {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: Response,
    private readonly intervalMs: number,
  ) {
    if (intervalMs > 0) this.timer = setTimeout(() => this.tick(), intervalMs);
  }

  /** True once the status line went out: the answer's own status can no longer be sent. */
  get started(): boolean {
    return this.res.headersSent;
  }

  private tick(): void {
    if (!this.res.headersSent) {
      this.res.status(200).type('application/json');
      this.res.setHeader('x-openai-proxy-keepalive', 'true');
    }
    this.res.write(' ');
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

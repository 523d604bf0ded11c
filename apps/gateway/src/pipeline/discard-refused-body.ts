import type { IncomingMessage } from 'node:http';

/** How long, in all, a refused body is read and thrown away before the connection is closed. */
export const DISCARD_MAX_MS = 30_000;
/** How long the client may go quiet while its refused body is thrown away. */
export const DISCARD_IDLE_MS = 5_000;

/**
 * A lingering close, as nginx does it: a request refused before its body was read (too large,
 * wrong type, no key) gets its answer at once, and the rest of its body is then read and thrown
 * away, so the client can finish writing and read the answer. Closing at once would make many
 * clients fail on their write (EPIPE, a reset that discards the answer) before they see the
 * status. Nothing is kept in memory; the socket is destroyed when the body has ended (if the
 * exchange closes the connection), or after DISCARD_MAX_MS in all, or DISCARD_IDLE_MS without a
 * byte, so an endless or stalled upload cannot hold the connection longer.
 */
export function discardRefusedBody(req: IncomingMessage): void {
  const socket = req.socket;
  let closeAfterBody = false;
  const total = setTimeout(() => socket.destroy(), DISCARD_MAX_MS).unref();
  const idle = setTimeout(() => socket.destroy(), DISCARD_IDLE_MS).unref();
  const onData = () => idle.refresh();
  // Node ends a `Connection: close` exchange with destroySoon() once the answer is written,
  // which drops whatever the client is still sending. Send our FIN instead, keep reading, and
  // destroy the socket once the body is in.
  socket.destroySoon = () => {
    closeAfterBody = true;
    if (socket.writable) socket.end();
  };
  const done = () => {
    clearTimeout(total);
    clearTimeout(idle);
    req.off('data', onData);
    if (closeAfterBody) socket.destroy();
  };
  // The body's own chunks, not the socket's: Node's parser reads the socket natively, and a
  // 'data' listener on the socket would take its bytes from the parser.
  req.on('data', onData);
  req.once('end', done);
  socket.once('close', done);
}

import type { IncomingMessage } from 'node:http';

/** How long, in all, a refused body is read and thrown away before the connection is closed. */
export const DISCARD_MAX_MS = 30_000;
/** How long the client may go quiet while its refused body is thrown away. */
export const DISCARD_IDLE_MS = 5_000;

/**
 * A lingering close, as nginx does it: a request refused before its body was read (too large,
 * wrong type, no key) gets its answer at once, and the rest of its body is then read and thrown
 * away, so the client can finish writing and read the answer. Closing right away would make many
 * clients fail on their write (EPIPE, a reset) before they see the status. Nothing is kept in
 * memory, and the socket is destroyed after DISCARD_MAX_MS in all or DISCARD_IDLE_MS without a
 * byte, so an endless or stalled upload cannot hold the connection longer.
 */
export function discardRefusedBody(req: IncomingMessage): void {
  const socket = req.socket;
  const close = () => socket.destroy();
  const total = setTimeout(close, DISCARD_MAX_MS).unref();
  const idle = setTimeout(close, DISCARD_IDLE_MS).unref();
  const onData = () => idle.refresh();
  const done = () => {
    clearTimeout(total);
    clearTimeout(idle);
    socket.off('data', onData);
  };
  socket.on('data', onData);
  req.once('end', done);
  socket.once('close', done);
  req.resume();
}

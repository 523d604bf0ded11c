import type { IncomingMessage } from 'node:http';

/** Reads the whole request body; resolves `undefined` if the client went away before it ended. */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
    req.on('error', () => resolve(undefined));
    req.on('close', () => {
      if (!req.complete) resolve(undefined);
    });
  });
}

export type ParsedBody = { ok: true; value: unknown } | { ok: false; raw: string };

/** JSON when the body parses, the raw text otherwise; an empty body is `undefined`. */
export function parseBody(raw: Buffer): ParsedBody {
  if (raw.length === 0) return { ok: true, value: undefined };
  const text = raw.toString('utf8');
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, raw: text };
  }
}

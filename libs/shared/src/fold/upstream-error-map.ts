import { ProxyError, UpstreamReportedError } from './errors.js';

/**
 * What an API answers, without streaming, for one failure an upstream names inside a stream it had
 * already answered 200 to: the status and type the client sees, and the code (when `code` is left
 * out, the most specific name the upstream gave is passed on, so a client reads what it would have
 * read from the upstream itself).
 */
export interface UpstreamErrorRule {
  status: number;
  type: string;
  code?: string | null;
}

/**
 * One dialect's failures, by the names its upstreams give them (a code, a type, a status): the
 * one shape the chat, Responses and Messages folds map their in-stream errors with.
 */
export type UpstreamErrorMap = Readonly<Record<string, UpstreamErrorRule>>;

/** A failure as an upstream reported it in its stream, ready to be mapped. */
export interface InStreamFailure {
  /** The names it gave, most specific first (null where it gave none): the first the map knows wins. */
  names: readonly (string | null)[];
  /** Where it failed, in the client's words: "The upstream stream failed". */
  lead: string;
  /** The upstream's own message, already cut to a readable length. */
  detail: string;
  param?: string | null;
}

/**
 * The error for a failure reported in a stream: an UpstreamReportedError with the map's status,
 * type and code for the first name the map knows; for none, the proxy's own 502
 * `upstream_stream_error`, naming what the upstream called it.
 */
export function inStreamError(map: UpstreamErrorMap, failure: InStreamFailure): ProxyError {
  const { names, lead, detail } = failure;
  const options = { param: failure.param ?? null };
  const given = names.find((name) => name !== null) ?? null;
  for (const name of names) {
    const rule = name !== null && Object.hasOwn(map, name) ? map[name] : undefined;
    if (rule === undefined) continue;
    const code = rule.code === undefined ? given : rule.code;
    return new UpstreamReportedError(
      { status: rule.status, type: rule.type, code },
      `${lead}: ${detail}`,
      options,
    );
  }
  const named = given === null ? '' : ` [${given}]`;
  return new ProxyError('upstream_stream_error', `${lead}${named}: ${detail}`, options);
}

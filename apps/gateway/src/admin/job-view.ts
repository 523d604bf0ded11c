import type { CompletionJobData, FoldBody, FoldRequest } from '@openai-proxy/shared';

/** What the queue dashboard shows of a job's data instead of the request body. */
function hiddenBody(bytes: number): string {
  return `hidden (${bytes} bytes; ADMIN_SHOW_CONTENT=true shows the request)`;
}

/**
 * A job's data as the queue dashboard shows it, page and JSON API alike. Built from the fields
 * named here, never by copying the data and deleting what is secret, so a field added to the
 * job later stays out until someone decides it may be shown. The client's key (`credential`) never
 * appears; the request body, which holds the messages, only with `showContent`, and its model
 * always (it says which model a stuck job is for, and is no message).
 */
export function jobDataForBoard(data: unknown, showContent: boolean): Record<string, unknown> {
  if (typeof data !== 'object' || data === null) return {};
  const job = data as Partial<CompletionJobData>;
  const request: Partial<FoldRequest> = job.request ?? {};
  const body = request.body;
  const rest = typeof body?.rest === 'string' ? body.rest : '';
  return {
    kind: request.kind,
    requestId: request.requestId,
    model: typeof body?.model === 'string' ? body.model : undefined,
    // Interactive, background or batch: what the dashboard tells the queue's jobs apart by.
    class: job.workClass ?? 'interactive',
    ...(job.background === undefined ? {} : { backgroundResponse: job.background.responseId }),
    ...(job.batch === undefined ? {} : { batch: job.batch }),
    acceptedAt: isoTime(job.acceptedAt),
    deadline: isoTime(job.deadline),
    // None: the upstream keys are the server's own, or the job failed (workers drop the key then).
    clientKey: request.credential === undefined ? 'none' : `hidden (${request.credential.header})`,
    headers: request.headers,
    body: showContent ? requestOf(body) : hiddenBody(Buffer.byteLength(rest)),
  };
}

/** The client's request as the job carries it: its model, every other field, its stream options. */
function requestOf(body: Partial<FoldBody> | undefined): unknown {
  if (body === undefined) return undefined;
  const rest = typeof body.rest === 'string' ? parsedOrText(body.rest) : undefined;
  const fields = typeof rest === 'object' && rest !== null ? rest : { rest };
  return {
    model: body.model,
    ...fields,
    ...(body.streamOptions === undefined ? {} : { stream_options: body.streamOptions }),
  };
}

function parsedOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function isoTime(epochMs: number | undefined): string | undefined {
  return typeof epochMs === 'number' && Number.isFinite(epochMs) && Math.abs(epochMs) <= 8.64e15
    ? new Date(epochMs).toISOString()
    : undefined;
}

import type { CompletionJobData } from '@openai-proxy/shared';

/** What the queue dashboard shows of a job's data instead of the request body. */
function hiddenBody(bytes: number): string {
  return `hidden (${bytes} bytes; ADMIN_SHOW_CONTENT=true shows the request)`;
}

/**
 * A job's data as the queue dashboard shows it, page and JSON API alike. Built from the fields
 * named here, never by copying the data and deleting what is secret, so a field added to the
 * job later stays out until someone decides it may be shown. The client's key (`auth`) never
 * appears; the request body, which holds the messages, only with `showContent`, and its model
 * always (it says which model a stuck job is for, and is no message).
 */
export function jobDataForBoard(data: unknown, showContent: boolean): Record<string, unknown> {
  if (typeof data !== 'object' || data === null) return {};
  const job = data as Partial<CompletionJobData>;
  const body = typeof job.body === 'string' ? job.body : '';
  return {
    kind: job.kind,
    requestId: job.requestId,
    model: modelOf(body),
    acceptedAt: isoTime(job.acceptedAt),
    deadline: isoTime(job.deadline),
    // None: the upstream keys are the server's own, or the job failed (workers drop the key then).
    clientKey: job.auth === undefined ? 'none' : `hidden (${job.auth.header})`,
    headers: job.headers,
    body: showContent ? parsedOrText(body) : hiddenBody(Buffer.byteLength(body)),
  };
}

function modelOf(body: string): string | undefined {
  const parsed = parsedOrText(body);
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { model } = parsed as { model?: unknown };
  return typeof model === 'string' ? model : undefined;
}

function parsedOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function isoTime(epochMs: number | undefined): string | undefined {
  return typeof epochMs === 'number' && Number.isFinite(epochMs)
    ? new Date(epochMs).toISOString()
    : undefined;
}

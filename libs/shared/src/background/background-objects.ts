import { randomBytes } from 'node:crypto';
import { isObject, type JsonObject } from '../fold/json-merge.js';
import { ResponsesFold } from '../responses/responses-fold.js';
import { type BackgroundStatus, eventData, type StoredEvent } from './background-store.js';

/**
 * The `response` objects of a background response, as OpenAI's API reference and the `openai`
 * SDK's `Response` type give them: the one answered at creation, the one retrieved while it runs
 * (its output so far, folded from its events) and the one it fails with.
 */

const ID_PREFIX = 'resp_bg_';

/** A new background response's id: OpenAI's `resp_` prefix, ours after it, unguessable. */
export function newBackgroundId(): string {
  return `${ID_PREFIX}${randomBytes(16).toString('hex')}`;
}

/** Whether an id is one this proxy made: others (an upstream's stored responses) pass on to the upstream. */
export function isBackgroundId(id: string): boolean {
  return (
    id.length === ID_PREFIX.length + 32 &&
    id.startsWith(ID_PREFIX) &&
    /^[0-9a-f]+$/.test(id.slice(ID_PREFIX.length))
  );
}

/**
 * The response as created: `queued`, no output, the request's settings with OpenAI's defaults for
 * those it left out (the upstream's own object replaces these once its stream starts).
 */
export function queuedResponse(
  id: string,
  body: Readonly<Record<string, unknown>>,
  createdAt: number,
): JsonObject {
  const given = (name: string, fallback: JsonObject[string]) =>
    (body[name] === undefined ? fallback : body[name]) as JsonObject[string];
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'queued',
    background: true,
    error: null,
    incomplete_details: null,
    instructions: given('instructions', null),
    max_output_tokens: given('max_output_tokens', null),
    max_tool_calls: given('max_tool_calls', null),
    metadata: given('metadata', {}),
    model: String(body.model),
    output: [],
    parallel_tool_calls: given('parallel_tool_calls', true),
    previous_response_id: given('previous_response_id', null),
    reasoning: given('reasoning', null),
    service_tier: given('service_tier', 'auto'),
    store: given('store', true),
    temperature: given('temperature', null),
    text: given('text', { format: { type: 'text' } }),
    tool_choice: given('tool_choice', 'auto'),
    tools: given('tools', []),
    top_p: given('top_p', null),
    truncation: given('truncation', 'disabled'),
    usage: null,
    user: given('user', null),
  };
}

/** The event data of a lifecycle event (`response.queued`, `response.failed`, …) carrying `response`. */
export function lifecycleEvent(type: string, response: JsonObject): string {
  return eventData({ type, response });
}

/** An upstream's response object as ours: our id, and `background: true`. */
export function asBackgroundObject(response: JsonObject, id: string): JsonObject {
  return { ...response, id, background: true };
}

/**
 * The response while it runs (or once cancelled): the latest object its events carried, with the
 * output items they built so far, at `status`. Only the latest generation counts: a generation
 * restarted after its worker was lost begins again with `response.created`.
 */
export function responseSoFar(
  base: JsonObject,
  events: readonly StoredEvent[],
  status: BackgroundStatus,
): JsonObject {
  let from = 0;
  for (let index = events.length - 1; index >= 0; index -= 1) {
    if (events[index]?.data.startsWith('{"type":"response.created"')) {
      from = index;
      break;
    }
  }
  const fold = new ResponsesFold();
  let folded = false;
  for (const event of events.slice(from)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      continue;
    }
    if (!isObject(parsed) || parsed.type === 'response.queued') continue;
    try {
      fold.add(parsed);
      folded = true;
    } catch {
      // An error event ends what the stream built: the output so far is what came before it.
      break;
    }
  }
  const current = folded ? (fold.result().response as JsonObject) : base;
  return { ...current, id: base.id ?? current.id, background: true, status };
}

/** What a failed response says went wrong: OpenAI's `{code, message}`. */
export interface ResponseFailure {
  code: string;
  message: string;
}

/** The response as it failed: the latest object, `failed`, with the error. */
export function failedResponse(latest: JsonObject, failure: ResponseFailure): JsonObject {
  return { ...latest, status: 'failed', error: { ...failure }, incomplete_details: null };
}

/** A failure read from an error body in OpenAI's shape (`{error: {message, code, type}}`). */
export function failureOfErrorBody(body: string, status: number): ResponseFailure {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const error = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
  const code = error?.code ?? error?.type;
  const message = error?.message;
  return {
    code: typeof code === 'string' && code !== '' ? code : status >= 500 ? 'server_error' : 'invalid_request',
    message: typeof message === 'string' ? message : `The upstream answered ${status}.`,
  };
}

import { errors, type Upstream, type UpstreamGroup, type UpstreamSet } from '@openai-proxy/shared';

/**
 * What `GET /v1/models/{id}` needs to know of the routing table: whether the configuration names
 * the model (answered from it, as `GET /v1/models` is), or only serves it by a glob or by
 * upstreams that serve every model (then asked of those upstreams: only they know it). A model
 * no upstream serves is the same 404 `model_not_found` as a completion for it, and no upstream
 * is asked: one that does not serve the model would answer for a model the proxy cannot reach.
 */
export type ModelLookup = { named: true } | { named: false; group: UpstreamGroup };

export function lookUpModel(upstreams: UpstreamSet, id: string): ModelLookup {
  const group = upstreams.groupFor(id);
  if (group === undefined) throw errors.modelNotFound(id);
  return group.members.some((upstream) => names(upstream, id)) ? { named: true } : { named: false, group };
}

/** Listed by name in its `models`, or an alias name (the client's name for it). */
function names(upstream: Upstream, id: string): boolean {
  return upstream.aliasFor(id) !== undefined || (upstream.spec.models?.includes(id) ?? false);
}

/** The model's id from the path after `/v1/models/` (SDKs percent-encode a `/` in it). */
export function modelIdOf(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    // Not valid UTF-8 once decoded: no configured name looks like that; left as written.
    return encoded;
  }
}

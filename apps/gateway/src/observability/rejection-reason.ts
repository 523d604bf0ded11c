/** The bounded `reason` label of `openai_proxy_rejected_requests_total` for a refusal's status. */
const REJECTION_REASONS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  408: 'timeout',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
};

export function rejectionReason(status: number): string {
  return REJECTION_REASONS[status] ?? 'other';
}

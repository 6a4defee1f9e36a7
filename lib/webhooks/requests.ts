/**
 * What a webhook request is and what its headers may hold: the port the sender and the
 * preview call (`WebhookClient`) and the pure rules a message's headers are checked against
 * at save and at render. The network side is lib/webhooks/safe-http.ts, the adapter.
 */

export interface WebhookRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export type WebhookResult =
  /** The receiver answered (any status; a 3XX is not followed). */
  | { kind: 'response'; status: number; body: string; location?: string; retryAfter?: string }
  /** Not sent: the destination or the request is not allowed. Never connected. */
  | { kind: 'refused'; reason: string }
  /** Sent, or tried, but no answer: connection error or timeout. */
  | { kind: 'error'; reason: string; timeout: boolean };

/** The port the sender calls (tests may hand in another). */
export interface WebhookClient {
  send(request: WebhookRequest): Promise<WebhookResult>;
}

/** RFC 9110 §5.6.2: a header name is a token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * What a header value may hold: tab, visible ASCII and space, and Latin-1 (RFC 9110 §5.5's
 * field-vchar and obs-text; Node's own rule). CR, LF and NUL would split the request; anything
 * beyond U+00FF Node refuses with an exception.
 */
const UNSAFE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** At most this many headers, each value at most this long: a message's headers stay far inside any server's limit. */
export const MAX_HEADERS = 50;
export const MAX_HEADER_VALUE_LENGTH = 8_192;
/** Set by the client from the URL and body: a template may not choose them. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  // Node refuses a trailer on a request with a length, and `expect: 100-continue` waits for an answer first.
  'trailer',
  'expect',
  'keep-alive',
  'proxy-connection',
]);
export const WEBHOOK_METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'] as const;

/** Problems with a request's headers, or undefined. */
export const headerProblem = (headers: Record<string, string>): string | undefined => {
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) return `at most ${MAX_HEADERS} headers (${entries.length} given)`;
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    if (!TOKEN.test(name)) return `header name ${JSON.stringify(name.slice(0, 100))} is not a token`;
    // Names are case-insensitive: two spellings of one would reach the receiver as one, the other dropped.
    if (seen.has(name.toLowerCase())) return `header ${name} is given twice (header names are case-insensitive)`;
    seen.add(name.toLowerCase());
    if (RESERVED_HEADERS.has(name.toLowerCase())) return `header ${name} is set by the sender, not the message`;
    if (typeof value !== 'string' || UNSAFE_VALUE.test(value))
      return `header ${name}: a value may hold only tabs, visible ASCII, spaces and Latin-1 (no CR, LF, NUL or characters beyond U+00FF: put those in the body, or percent-encode them)`;
    if (value.length > MAX_HEADER_VALUE_LENGTH)
      return `header ${name}: a value may be at most ${MAX_HEADER_VALUE_LENGTH} characters`;
  }
  return undefined;
};

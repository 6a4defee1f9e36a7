/**
 * What a webhook's answer means for the message (pure):
 * - 2XX: delivered;
 * - 5XX, 429, a timeout or a connection error: retried with exponential backoff and full
 *   jitter (429's `Retry-After` honoured, within the cap), at most MAX_ATTEMPTS attempts;
 * - any other 4XX: failed, not retried (the receiver refused this message);
 * - 3XX: failed, never followed (a redirect could lead anywhere, the metadata service
 *   included), with where it pointed;
 * - a refused destination or request: failed, never sent.
 */
import type { WebhookResult } from './safe-http.js';
import { backoffDelay } from '../retry.js';

/** Attempts per message, the first included: with the delays below, about 20 minutes of retries at worst. */
export const MAX_ATTEMPTS = 8;
export const RETRY_BASE_SECONDS = 10;
/** SQS's DelaySeconds and a comfortable visibility timeout: 15 minutes. */
export const RETRY_CAP_SECONDS = 900;

export type Verdict =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status: number; reason: string; retryAfterSeconds?: number }
  | { kind: 'failed'; status: number; reason: string };

/** Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
const retryAfterSeconds = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
};

/**
 * `describeRedirect` says why a redirect's target would be refused (or undefined when it
 * would not): the reason then names it, so "refused" shows in the campaign's figures.
 */
export const judge = async (
  result: WebhookResult,
  options: { now?: number; describeRedirect?: (location: string) => Promise<string | undefined> } = {},
): Promise<Verdict> => {
  if (result.kind === 'refused') return { kind: 'failed', status: 0, reason: result.reason };
  if (result.kind === 'error') return { kind: 'retry', status: 0, reason: result.reason };
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status >= 300 && status < 400) {
    const location = result.location ?? '(no Location)';
    const refused = result.location && options.describeRedirect ? await options.describeRedirect(location) : undefined;
    return {
      kind: 'failed',
      status,
      reason: refused
        ? `redirect (${status}) to a refused destination not followed: ${refused}`
        : `redirect (${status}) to ${location} not followed`,
    };
  }
  if (status === 429 || status >= 500) {
    const after = status === 429 ? retryAfterSeconds(result.retryAfter, options.now ?? Date.now()) : undefined;
    return {
      kind: 'retry',
      status,
      reason: `receiver answered ${status}`,
      ...(after !== undefined ? { retryAfterSeconds: after } : {}),
    };
  }
  return { kind: 'failed', status, reason: `receiver answered ${status}` };
};

/**
 * Seconds before attempt `attempt + 1`, after `attempt` attempts: full jitter, uniform in
 * [0, min(cap, base × 2^(attempt−1))], or the receiver's Retry-After when it asks for longer.
 */
export const retryDelaySeconds = (
  attempt: number,
  random: () => number,
  options: { baseSeconds?: number; capSeconds?: number; retryAfterSeconds?: number } = {},
): number => {
  const base = options.baseSeconds ?? RETRY_BASE_SECONDS;
  const cap = options.capSeconds ?? RETRY_CAP_SECONDS;
  const jittered = Math.round(backoffDelay(attempt - 1, { base, cap }, random));
  return Math.min(cap, Math.max(jittered, options.retryAfterSeconds ?? 0));
};

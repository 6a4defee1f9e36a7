/**
 * Contract: 250,000 requests per hour per partner (we count per partner and workspace,
 * so one customer cannot exhaust another's budget); over it, 429 with X-RateLimit-Limit,
 * X-RateLimit-Remaining and X-RateLimit-Reset (epoch seconds). Fixed hourly windows: one
 * atomic counter per (partner, workspace, hour), so every Lambda instance shares it.
 */
import { ServiceError } from '../errors.js';

export const DEFAULT_REQUESTS_PER_HOUR = 250_000;
const WINDOW_SECONDS = 3_600;

/** The port: atomically count one request in a window unless it is full. */
export interface RequestCounter {
  /** Returns the count including this request, or `undefined` if the window was already at `limit`. */
  countRequest(key: string, windowStart: number, limit: number, expiresAt: number): Promise<number | undefined>;
}

export interface RateLimitHeaders extends Record<string, string> {
  'X-RateLimit-Limit': string;
  'X-RateLimit-Remaining': string;
  'X-RateLimit-Reset': string;
}

export class RateLimitedError extends ServiceError {
  constructor(limit: number, headers: RateLimitHeaders, retryAfterSeconds: number) {
    super(429, 'Rate limit exceeded', {
      errors: [`at most ${limit} requests per hour per partner and workspace; the window resets at ${headers['X-RateLimit-Reset']} (epoch seconds)`],
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    });
    this.name = 'RateLimitedError';
  }
}

export const enforceRateLimit = async (
  counter: RequestCounter,
  request: { partner: string; workspaceId: string; limit: number; now: Date },
): Promise<RateLimitHeaders> => {
  const nowSeconds = Math.floor(request.now.getTime() / 1000);
  const windowStart = nowSeconds - (nowSeconds % WINDOW_SECONDS);
  const reset = windowStart + WINDOW_SECONDS;
  const count = await counter.countRequest(`${request.partner}#${request.workspaceId}`, windowStart, request.limit, reset + WINDOW_SECONDS);
  const headers: RateLimitHeaders = {
    'X-RateLimit-Limit': String(request.limit),
    'X-RateLimit-Remaining': String(count === undefined ? 0 : Math.max(0, request.limit - count)),
    'X-RateLimit-Reset': String(reset),
  };
  if (count === undefined) throw new RateLimitedError(request.limit, headers, reset - nowSeconds);
  return headers;
};

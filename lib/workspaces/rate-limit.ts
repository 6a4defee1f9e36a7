/**
 * Contract: 250,000 requests per hour per partner (we count per partner and workspace,
 * so one customer cannot exhaust another's budget); over it, 429 with X-RateLimit-Limit,
 * X-RateLimit-Remaining and X-RateLimit-Reset (epoch seconds). Fixed hourly windows, one
 * shared counter per (partner, workspace, hour), so the limit holds across all instances.
 *
 * Counting each request in the shared counter would cost a round trip per request. Instead
 * each instance claims a block of the window's budget with one conditional update (the
 * counter holds what all instances have claimed, never more than the limit) and admits
 * requests from its block locally. Hence:
 * - never more than the limit admitted per window, across all instances: every admitted
 *   request was claimed first, and claims never exceed the limit;
 * - blocks shrink as the window fills (a 64th of what is unclaimed, at most 100), down to 1
 *   near the limit; what an instance claimed and did not use (its last block, when it
 *   stops receiving requests or is recycled) is lost to the window, so a window may close
 *   a little under the limit, never over it;
 * - once the counter says the window is full, the instance answers 429 without asking
 *   again until the window ends (the counter only grows within a window).
 */
import { ServiceError } from '../errors.js';

export const DEFAULT_REQUESTS_PER_HOUR = 250_000;
const WINDOW_SECONDS = 3_600;
/** At most this many requests claimed at once: one round trip per 100 requests at most. */
export const MAX_BLOCK = 100;
/** A claim takes at most this fraction of what is still unclaimed in the window. */
const BLOCK_FRACTION = 1 / 64;

export interface ClaimResult {
  /** Whether the block was added to the window's count. */
  claimed: boolean;
  /** The window's count (claims of all instances) after the claim, or as it was when the block did not fit. */
  count: number;
}

/** The port: the shared, atomic count of claimed requests per window. */
export interface RequestCounter {
  /** Adds `block` to the window's count only if the count stays ≤ `limit`. */
  claimRequests(
    key: string,
    windowStart: number,
    block: number,
    limit: number,
    expiresAt: number,
  ): Promise<ClaimResult>;
}

export interface RateLimitHeaders extends Record<string, string> {
  'X-RateLimit-Limit': string;
  'X-RateLimit-Remaining': string;
  'X-RateLimit-Reset': string;
}

export class RateLimitedError extends ServiceError {
  constructor(limit: number, headers: RateLimitHeaders, retryAfterSeconds: number) {
    super(429, 'Rate limit exceeded', {
      errors: [
        `at most ${limit} requests per hour per partner and workspace; the window resets at ${headers['X-RateLimit-Reset']} (epoch seconds)`,
      ],
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    });
    this.name = 'RateLimitedError';
  }
}

/** How many requests to claim when `unclaimed` are left in the window. */
export const blockSize = (unclaimed: number, maxBlock = MAX_BLOCK): number =>
  Math.max(1, Math.min(maxBlock, Math.floor(unclaimed * BLOCK_FRACTION), unclaimed));

/** This instance's share of one (partner, workspace) window. */
interface Lease {
  windowStart: number;
  /** Claimed by this instance and not used yet. */
  tokens: number;
  /** The window's count as last seen by this instance (at its last claim). */
  count: number;
  /** The counter said the window is full. */
  exhausted: boolean;
  /** A claim in flight: concurrent requests of this instance wait for it rather than claim again. */
  claiming?: Promise<void>;
}

export class RateLimiter {
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly counter: RequestCounter,
    private readonly limit: number = DEFAULT_REQUESTS_PER_HOUR,
    private readonly maxBlock: number = MAX_BLOCK,
  ) {}

  /**
   * Admits one request of `partner` for `workspaceId`, or throws a RateLimitedError (429).
   * The headers' Remaining is what this instance knows: the window's unclaimed requests at
   * its last claim plus what is left of its block (exact with one instance; with several it
   * does not see what the others claimed since, so it may be higher than the truth).
   */
  async admit(request: { partner: string; workspaceId: string; now: Date }): Promise<RateLimitHeaders> {
    const nowSeconds = Math.floor(request.now.getTime() / 1000);
    const windowStart = nowSeconds - (nowSeconds % WINDOW_SECONDS);
    const reset = windowStart + WINDOW_SECONDS;
    const key = `${request.partner}#${request.workspaceId}`;
    for (;;) {
      const lease = this.lease(key, windowStart);
      if (lease.tokens > 0) {
        lease.tokens -= 1;
        return this.headers(Math.max(0, this.limit - lease.count) + lease.tokens, reset);
      }
      if (lease.exhausted) throw new RateLimitedError(this.limit, this.headers(0, reset), reset - nowSeconds);
      if (!lease.claiming) {
        lease.claiming = this.claim(key, lease, reset + WINDOW_SECONDS).finally(() => {
          lease.claiming = undefined;
        });
      }
      await lease.claiming;
    }
  }

  private lease(key: string, windowStart: number): Lease {
    const current = this.leases.get(key);
    if (current?.windowStart === windowStart) return current;
    // A new window: forget the leases of past ones (what they held is lost with their window).
    for (const [other, lease] of this.leases)
      if (lease.windowStart < windowStart && !lease.claiming) this.leases.delete(other);
    const lease: Lease = { windowStart, tokens: 0, count: 0, exhausted: false };
    this.leases.set(key, lease);
    return lease;
  }

  /** One conditional update in the common case; a smaller block again if the first did not fit. */
  private async claim(key: string, lease: Lease, expiresAt: number): Promise<void> {
    for (;;) {
      const unclaimed = this.limit - lease.count;
      if (unclaimed <= 0) {
        lease.exhausted = true;
        return;
      }
      const block = blockSize(unclaimed, this.maxBlock);
      const result = await this.counter.claimRequests(key, lease.windowStart, block, this.limit, expiresAt);
      lease.count = Math.max(lease.count, result.count);
      if (result.claimed) {
        lease.tokens += block;
        return;
      }
    }
  }

  private headers(remaining: number, reset: number): RateLimitHeaders {
    return {
      'X-RateLimit-Limit': String(this.limit),
      'X-RateLimit-Remaining': String(remaining),
      'X-RateLimit-Reset': String(reset),
    };
  }
}

/**
 * The one backoff formula (lib/retry.ts): exponential from `base`, capped, full or equal
 * jitter; and that each caller's policy keeps the delays it documents.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../lib/retry.js';
import { backoffSeconds } from '../../lib/currents/delivery.js';
import { retryDelaySeconds } from '../../lib/webhooks/policy.js';

describe('backoffDelay', () => {
  it('doubles from base up to the cap, full jitter spanning [0, d]', () => {
    const top = () => 1 - Number.EPSILON;
    expect([0, 1, 2, 3, 10].map((retry) => Math.round(backoffDelay(retry, { base: 20, cap: 1_000 }, top)))).toEqual([
      20, 40, 80, 160, 1_000,
    ]);
    expect(backoffDelay(5, { base: 20, cap: 1_000 }, () => 0)).toBe(0);
  });

  it('keeps equal jitter in [d/2, d]', () => {
    expect(backoffDelay(2, { base: 10, cap: 900, jitter: 'equal' }, () => 0)).toBe(20);
    expect(backoffDelay(20, { base: 10, cap: 900, jitter: 'equal' }, () => 0)).toBe(450);
  });

  it('treats a negative retry as the first', () => {
    expect(backoffDelay(-1, { base: 7, cap: 100 }, () => 0.5)).toBe(3.5);
  });

  it('stays within [0, cap] (full) and [cap/2 … d] (equal) for any retry and random', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        (retry, random, base, cap) => {
          const ceiling = Math.min(cap, base * 2 ** retry);
          const full = backoffDelay(retry, { base, cap }, () => random);
          const equal = backoffDelay(retry, { base, cap, jitter: 'equal' }, () => random);
          expect(full).toBeGreaterThanOrEqual(0);
          expect(full).toBeLessThanOrEqual(ceiling);
          expect(equal).toBeGreaterThanOrEqual(ceiling / 2);
          expect(equal).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });
});

describe("the callers' policies", () => {
  it('Currents waits at least 1 s, doubling from its base after the first attempt', () => {
    expect(backoffSeconds(1, () => 0)).toBe(1);
    expect(backoffSeconds(1, () => 0.999)).toBeGreaterThanOrEqual(1);
    expect(backoffSeconds(3, () => 0.999) / backoffSeconds(2, () => 0.999)).toBeCloseTo(2, 0);
  });

  it("webhooks honour a receiver's Retry-After, within the cap", () => {
    expect(retryDelaySeconds(1, () => 0, { baseSeconds: 10, capSeconds: 600, retryAfterSeconds: 120 })).toBe(120);
    expect(retryDelaySeconds(1, () => 0, { baseSeconds: 10, capSeconds: 600, retryAfterSeconds: 6_000 })).toBe(600);
    expect(retryDelaySeconds(3, () => 0.5, { baseSeconds: 10, capSeconds: 600 })).toBe(20);
  });
});

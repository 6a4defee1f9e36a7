/**
 * Instants in keys (lib/campaigns/instants.ts): every instant a key may hold sorts as time
 * does, across the whole range; anything outside it is refused, never written as `+010000-…`
 * (which sorts before `2026-…`, so a year-10000 run was due at once); and the API's bound on
 * a scheduled send.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  instantKey,
  InstantOutOfRangeError,
  LAST_KEY_INSTANT_MS,
  MAX_SCHEDULE_AHEAD_MS,
  PAST_TOLERANCE_MS,
  scheduleProblem,
} from '../../lib/campaigns/instants.js';

describe('instantKey', () => {
  it('orders as time does for every pair of instants in the range (property)', () => {
    const instant = fc.integer({ min: 0, max: LAST_KEY_INSTANT_MS });
    fc.assert(
      fc.property(instant, instant, (a, b) => {
        const [keyA, keyB] = [instantKey(a), instantKey(b)];
        expect(Math.sign(keyA < keyB ? -1 : keyA > keyB ? 1 : 0)).toBe(Math.sign(a - b));
        expect(keyA).toHaveLength(24);
      }),
      { numRuns: 2_000 },
    );
  });

  it('holds the ends of the range and refuses what lies beyond, and what is not a time', () => {
    expect(instantKey(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(instantKey(LAST_KEY_INSTANT_MS)).toBe('9999-12-31T23:59:59.999Z');
    expect(instantKey('9999-12-31T22:59:59-01:00')).toBe('9999-12-31T23:59:59.000Z');
    for (const outside of [LAST_KEY_INSTANT_MS + 1, -1, Number.NaN, '9999-12-31T23:59:59-01:00', 'soon'])
      expect(() => instantKey(outside)).toThrow(InstantOutOfRangeError);
  });
});

describe('scheduleProblem', () => {
  const now = Date.UTC(2026, 11, 7, 12);

  it('takes now, a minute ago and up to two years ahead', () => {
    for (const at of [now, now - PAST_TOLERANCE_MS, now + 3_600_000, now + MAX_SCHEDULE_AHEAD_MS])
      expect(scheduleProblem(at, now)).toBeUndefined();
  });

  it('refuses the past, "never" dates and what is not a time, each with the bound', () => {
    expect(scheduleProblem(now - PAST_TOLERANCE_MS - 1, now)).toMatch(/^is in the past/);
    expect(scheduleProblem(Date.parse('9999-12-31T23:59:59Z'), now)).toMatch(/more than 2 years ahead/);
    expect(scheduleProblem(now + MAX_SCHEDULE_AHEAD_MS + 1, now)).toMatch(/more than 2 years ahead/);
    expect(scheduleProblem(Number.NaN, now)).toBe('is not a date-time');
  });
});

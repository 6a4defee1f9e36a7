/**
 * The frequency cap's rule (lib/campaigns/frequency-cap.ts), against a serial oracle that
 * keeps every send forever: whatever caps are set one after another (a longer window, more
 * or fewer messages), a send is admitted exactly when the oracle's count of sends inside
 * the cap's window, as it is now, is below its maximum. A retry of an admitted key takes no
 * second slot.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CapSend, capDecision } from '../../lib/campaigns/frequency-cap.js';
import { MAX_CAP_MESSAGES, MAX_CAP_WINDOW_SECONDS } from '../../lib/campaigns/model.js';

const DAY = 86_400;

describe('the frequency cap', () => {
  it('counts every send inside the current window, whatever window the earlier sends were admitted under (property)', () => {
    const cap = fc.record({
      maxMessages: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(MAX_CAP_MESSAGES)),
      windowSeconds: fc.oneof(fc.constantFrom(60, 3_600, DAY, 7 * DAY), fc.constant(MAX_CAP_WINDOW_SECONDS)),
    });
    const step = fc.record({
      cap,
      advanceSeconds: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 * DAY })),
      retry: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
        let stored: CapSend[] = [];
        const everything: CapSend[] = [];
        let now = Date.UTC(2031, 0, 1);
        steps.forEach(({ cap: current, advanceSeconds, retry }, index) => {
          now += advanceSeconds * 1000;
          const key = retry && everything.length > 0 ? everything.at(-1)!.k : `k${index}`;
          const inWindow = everything.filter((send) => send.at > now - current.windowSeconds * 1000);
          const oracle = inWindow.some((send) => send.k === key)
            ? 'already'
            : inWindow.length < current.maxMessages
              ? 'admit'
              : 'full';
          const decision = capDecision(stored, key, current, now);
          expect(decision.kind).toBe(oracle);
          if (decision.kind === 'admit') {
            stored = decision.sends;
            everything.push({ k: key, at: now });
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('widening the window counts sends that a narrower one had left out (seen: forgotten at the next write)', () => {
    // Prepare: three sends an hour apart under a cap of 3 per hour.
    const hourly = { maxMessages: 3, windowSeconds: 3_600 };
    let stored: CapSend[] = [];
    const start = Date.UTC(2031, 0, 1);
    for (const [index, offset] of [0, 3_700, 7_400].entries()) {
      const decision = capDecision(stored, `k${index}`, hourly, start + offset * 1000);
      expect(decision.kind).toBe('admit');
      if (decision.kind === 'admit') stored = decision.sends;
    }

    // Act: the cap becomes 3 per day.
    const daily = capDecision(stored, 'k3', { maxMessages: 3, windowSeconds: DAY }, start + 7_500 * 1000);

    // Assess
    expect(daily.kind).toBe('full');
  });

  it('keeps at most the largest maximum of sends, however many are admitted', () => {
    let stored: CapSend[] = [];
    const cap = { maxMessages: MAX_CAP_MESSAGES, windowSeconds: 60 };
    for (let index = 0; index < MAX_CAP_MESSAGES + 50; index += 1) {
      const decision = capDecision(stored, `k${index}`, cap, Date.UTC(2031, 0, 1) + index * 61_000);
      if (decision.kind === 'admit') stored = decision.sends;
    }
    expect(stored).toHaveLength(MAX_CAP_MESSAGES);
    expect(stored.at(-1)!.k).toBe(`k${MAX_CAP_MESSAGES + 49}`);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideMembership, memberCountDelta, type MembershipState } from '../../lib/cohorts/ordering.js';

describe('decideMembership', () => {
  it.each<[string, MembershipState | undefined, { member: boolean; orderKey: string }, string]>([
    ['adds a new member', undefined, { member: true, orderKey: 'b' }, 'added'],
    [
      'writes a tombstone for a removal of someone never seen',
      undefined,
      { member: false, orderKey: 'b' },
      'unchanged',
    ],
    ['removes a member', { member: true, orderKey: 'a', effect: 'added' }, { member: false, orderKey: 'b' }, 'removed'],
    [
      'records a newer add of a member as unchanged',
      { member: true, orderKey: 'a', effect: 'added' },
      { member: true, orderKey: 'b' },
      'unchanged',
    ],
    [
      'ignores an older add after a newer removal',
      { member: false, orderKey: 'c', effect: 'removed' },
      { member: true, orderKey: 'b' },
      'superseded',
    ],
    [
      'reports a redelivered change as it was applied',
      { member: true, orderKey: 'b', effect: 'added' },
      { member: true, orderKey: 'b' },
      'added',
    ],
  ])('%s', (_case, current, desired, outcome) => {
    expect(decideMembership(current, desired).outcome).toBe(outcome);
  });

  it('skips (writes nothing) for stale and redelivered changes', () => {
    expect(
      decideMembership({ member: true, orderKey: 'c', effect: 'added' }, { member: false, orderKey: 'b' }).action,
    ).toBe('skip');
    expect(
      decideMembership({ member: true, orderKey: 'b', effect: 'added' }, { member: true, orderKey: 'b' }).action,
    ).toBe('skip');
  });

  /**
   * The property the sync relies on: applying a sequence of changes in any order, each
   * any number of times, ends in the state (and member count) of applying them once, in order.
   */
  it('converges to the serial state under any duplication and reordering', () => {
    const change = fc.record({ user: fc.integer({ min: 0, max: 4 }), member: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(change, { minLength: 1, maxLength: 30 }).chain((changes) =>
          fc.tuple(
            fc.constant(changes),
            fc.shuffledSubarray(
              changes.flatMap((_, index) => [index, index]),
              { minLength: changes.length * 2, maxLength: changes.length * 2 },
            ),
          ),
        ),
        ([changes, deliveries]) => {
          const orderKey = (index: number) => String(index).padStart(4, '0');
          const serial = new Map<number, boolean>();
          for (const item of changes) serial.set(item.user, item.member);

          const registers = new Map<number, MembershipState>();
          let count = 0;
          for (const index of deliveries) {
            const item = changes[index]!;
            const decision = decideMembership(registers.get(item.user), {
              member: item.member,
              orderKey: orderKey(index),
            });
            count += memberCountDelta(decision);
            if (decision.action === 'write') registers.set(item.user, decision.next);
          }
          const final = new Map([...registers].map(([user, state]) => [user, state.member]));
          expect(final).toEqual(serial);
          expect(count).toBe([...serial.values()].filter(Boolean).length);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { serialOracle, serialReplay } from '../support/oracle.js';

const body = (at: string, requestId: string, changes: { user_ids: string[]; should_remove?: boolean }[]) =>
  JSON.stringify({
    v: 1,
    type: 'cohort.changed',
    workspaceId: 'w',
    partner: 'heap',
    cohortId: 'c',
    stamp: { acceptedAt: at, requestId },
    changes,
  });
const brazeIdOf = (externalId: string) => (externalId.startsWith('nobody') ? undefined : `b-${externalId}`);

describe('serialReplay', () => {
  it('applies requests in stamp order whatever order they come in, each once, and counts the flips by type', () => {
    const add = body('2026-01-01T00:00:00.000Z', 'r1', [{ user_ids: ['u1', 'u2', 'nobody'] }]);
    const remove = body('2026-01-01T00:00:01.000Z', 'r2', [{ user_ids: ['u1', 'u3'], should_remove: true }]);
    const readd = body('2026-01-01T00:00:02.000Z', 'r3', [{ user_ids: ['u1', 'u2'] }]);
    const replay = serialReplay([readd, remove, add, remove, add], brazeIdOf);
    expect(replay.requests).toBe(3);
    expect(Object.fromEntries(replay.state)).toEqual({ 'b-u1': true, 'b-u2': true, 'b-u3': false });
    // u1: added, removed, added; u2: added (the re-add changes nothing); u3: a removal of no member.
    expect(Object.fromEntries(replay.flips)).toEqual({ 'b-u1': 'ara', 'b-u2': 'a' });
    expect([replay.added, replay.removed]).toEqual([3, 1]);
    expect(serialOracle([readd, remove, add], brazeIdOf)).toEqual(replay.state);
  });

  it("takes a user's last change within a request as the request's net change: one flip at most", () => {
    const replay = serialReplay(
      [
        body('2026-01-01T00:00:00.000Z', 'r1', [
          { user_ids: ['u1'] },
          { user_ids: ['u1'], should_remove: true },
          { user_ids: ['u1'] },
        ]),
      ],
      brazeIdOf,
    );
    expect(Object.fromEntries(replay.flips)).toEqual({ 'b-u1': 'a' });
  });
});

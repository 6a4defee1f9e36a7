import { describe, expect, it } from 'vitest';
import {
  identifierKey,
  matchChanges,
  matchUser,
  type DirectoryEntry,
  type IdentifierRef,
} from '../../lib/cohorts/matching.js';
import { changeOrderKey, type CohortChangedMessage } from '../../lib/cohorts/messages.js';

const identified: DirectoryEntry = { brazeId: 'identified-user', identified: true };
const anonymous: DirectoryEntry = { brazeId: 'anonymous-user', identified: false };

describe('matchUser: the contract rules as a table', () => {
  it.each<[string, IdentifierRef, DirectoryEntry | undefined, string | undefined]>([
    [
      'rule 1: an external id matches its identified user',
      { type: 'external_id', externalId: 'e' },
      identified,
      'identified-user',
    ],
    [
      'rule 1: an alias matches its user',
      { type: 'alias', label: 'email', name: 'a@b.io' },
      identified,
      'identified-user',
    ],
    [
      'rule 1: an alias of an alias-only user matches it',
      { type: 'alias', label: 'crm', name: 'lead' },
      anonymous,
      'anonymous-user',
    ],
    [
      'rule 2: a device id matches an anonymous user',
      { type: 'device_id', deviceId: 'd' },
      anonymous,
      'anonymous-user',
    ],
    [
      'rule 3: a device id never matches an identified user',
      { type: 'device_id', deviceId: 'd' },
      identified,
      undefined,
    ],
    [
      'rule 4: an unknown external id matches nobody',
      { type: 'external_id', externalId: 'nobody' },
      undefined,
      undefined,
    ],
    [
      'rule 4: an unknown alias matches nobody',
      { type: 'alias', label: 'email', name: 'nobody' },
      undefined,
      undefined,
    ],
    ['rule 4: an unknown device matches nobody', { type: 'device_id', deviceId: 'nobody' }, undefined, undefined],
  ])('%s', (_rule, ref, entry, expected) => {
    expect(matchUser(ref, entry)).toBe(expected);
  });
});

describe('matchChanges', () => {
  const stamp = { acceptedAt: '2026-01-01T00:00:00.000Z', requestId: 'req-1' };
  const message = (changes: CohortChangedMessage['changes']): CohortChangedMessage => ({
    v: 1,
    type: 'cohort.changed',
    workspaceId: 'w',
    partner: 'heap',
    cohortId: 'c',
    changes,
    stamp,
  });
  const directory = new Map<string, DirectoryEntry>([
    [identifierKey({ type: 'external_id', externalId: 'e1' }), { brazeId: 'u1', identified: true }],
    [identifierKey({ type: 'alias', label: 'email', name: 'one@x.io' }), { brazeId: 'u1', identified: true }],
    [identifierKey({ type: 'device_id', deviceId: 'd1' }), { brazeId: 'u1', identified: true }],
    [identifierKey({ type: 'device_id', deviceId: 'd2' }), { brazeId: 'u2', identified: false }],
  ]);

  it('counts received, matched and unmatched identifiers, and never invents a user', () => {
    const result = matchChanges(
      message([{ user_ids: ['e1', 'ghost'], device_ids: ['d1', 'd2'], aliases: [] }]),
      directory,
    );
    expect(result).toMatchObject({ received: 4, matched: 2, unmatched: 2 });
    expect(result.desired.map((membership) => membership.brazeId).sort()).toEqual(['u1', 'u2']);
  });

  it('collapses a user named several times to the last change in array order', () => {
    const result = matchChanges(
      message([
        { user_ids: ['e1'] },
        { aliases: [{ alias_name: 'one@x.io', alias_label: 'email' }], should_remove: true },
        { device_ids: ['d2'] },
      ]),
      directory,
    );
    expect(result.desired).toEqual([
      { brazeId: 'u1', member: false, orderKey: changeOrderKey(stamp, 1) },
      { brazeId: 'u2', member: true, orderKey: changeOrderKey(stamp, 2) },
    ]);
  });

  it('gives each change an order key that sorts by time, then request, then index', () => {
    const earlier = changeOrderKey({ acceptedAt: '2026-01-01T00:00:00.000Z', requestId: 'zzz' }, 999);
    const later = changeOrderKey({ acceptedAt: '2026-01-01T00:00:00.001Z', requestId: 'aaa' }, 0);
    expect(earlier < later).toBe(true);
    expect(changeOrderKey(stamp, 2) < changeOrderKey(stamp, 10)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { toRegisterRecords } from '../../functions/events/app.js';
import { membershipFlips, type RegisterStreamRecord } from '../../lib/dynamodb/membership-stream.js';

const register = (member: boolean, orderKey: string, updatedAt = '2026-01-01T00:00:00.000Z') => ({
  pk: 'ws1#M07#heap#cohort#with#hashes',
  sk: 'M#0f00aa',
  brazeId: '0f00aa',
  member,
  orderKey,
  effect: member ? 'added' : 'removed',
  updatedAt,
});
const keys = { pk: 'ws1#M07#heap#cohort#with#hashes', sk: 'M#0f00aa' };

describe('membershipFlips', () => {
  it('reads a new member, a removal and a merge as flips, with the cohort parsed from the key', () => {
    // Prepare
    const records: RegisterStreamRecord[] = [
      { eventName: 'INSERT', keys, newImage: register(true, 'k1') },
      { eventName: 'MODIFY', keys, oldImage: register(true, 'k1'), newImage: register(false, 'k2') },
      { eventName: 'MODIFY', keys, oldImage: register(false, 'k2'), newImage: register(true, 'k3') },
      {
        eventName: 'MODIFY',
        keys,
        oldImage: register(true, 'k3'),
        newImage: { ...register(false, 'k3'), endedBy: 'merge' },
      },
    ];

    // Act
    const flips = membershipFlips(records);

    // Assess
    expect(flips.map((flip) => [flip.effect, flip.orderKey, flip.cause])).toEqual([
      ['added', 'k1', 'change'],
      ['removed', 'k2', 'change'],
      ['added', 'k3', 'change'],
      ['removed', 'k3', 'merge'],
    ]);
    expect(flips[0]).toMatchObject({
      cohort: { workspaceId: 'ws1', partner: 'heap', cohortId: 'cohort#with#hashes' },
      brazeId: '0f00aa',
    });
  });

  it('ignores writes that flip nothing and items that are not registers', () => {
    const records: RegisterStreamRecord[] = [
      { eventName: 'INSERT', keys, newImage: register(false, 'k1') }, // a tombstone for a removal of a non-member
      { eventName: 'MODIFY', keys, oldImage: register(true, 'k1'), newImage: register(true, 'k2') }, // already a member
      { eventName: 'REMOVE', keys, oldImage: register(true, 'k2') },
      {
        eventName: 'MODIFY',
        keys,
        oldImage: register(true, 'k2'),
        newImage: { ...register(false, 'k2'), endedBy: 'orphan' },
      }, // ended by the events function
      {
        eventName: 'MODIFY',
        keys: { pk: 'ws1#C#heap#c1', sk: 'N#03' },
        oldImage: { members: 1 },
        newImage: { members: 2 },
      },
      { eventName: 'INSERT', keys: { pk: 'ws1#COHORTS', sk: 'heap#c1' }, newImage: { name: 'c1', member: true } },
    ];
    expect(membershipFlips(records)).toEqual([]);
  });
});

describe('toRegisterRecords', () => {
  it('passes over items that are not membership registers before reading their images (one that cannot be read included)', () => {
    // Prepare: a connector's dead letter whose image has a value no unmarshaller reads, and a register
    const event = {
      Records: [
        {
          eventName: 'INSERT',
          dynamodb: {
            Keys: { pk: { S: 'ws1#CURRENTS#c1' }, sk: { S: 'DLQ#2026#e1' } },
            NewImage: { pk: { S: 'ws1#CURRENTS#c1' }, event: { M: { properties: {} } } },
          },
        },
        {
          eventName: 'INSERT',
          dynamodb: {
            Keys: { pk: { S: keys.pk }, sk: { S: keys.sk } },
            NewImage: {
              pk: { S: keys.pk },
              sk: { S: keys.sk },
              brazeId: { S: '0f00aa' },
              member: { BOOL: true },
              orderKey: { S: 'k1' },
              updatedAt: { S: '2026-01-01T00:00:00.000Z' },
            },
          },
        },
      ],
    } as unknown as DynamoDBStreamEvent;

    // Act
    const records = toRegisterRecords(event);

    // Assess
    expect(records).toHaveLength(1);
    expect(membershipFlips(records)).toMatchObject([{ brazeId: '0f00aa', effect: 'added' }]);
  });
});

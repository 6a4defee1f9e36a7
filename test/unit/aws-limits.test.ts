/**
 * The arithmetic of the AWS limits model (local/aws-limits.ts) against AWS's own
 * documented examples: item sizes, read and write units, index writes, token buckets and
 * the projection of a trace onto AWS's unscaled limits.
 */
import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  TokenBucket,
  attributeValueSize,
  indexWrites,
  itemSize,
  numberSize,
  projectAwsTime,
  physicalPartitionOf,
  NEW_TABLE_UNITS_PER_SECOND,
  queryReadUnits,
  readUnits,
  tableShapes,
  writeUnits,
  type TableShape,
  type UnitTotals,
} from '../../local/aws-limits.js';

const KB = 1024;

describe('itemSize (DynamoDB item sizes and formats)', () => {
  it.each<[string, AttributeValue, number]>([
    ['a string is its UTF-8 bytes', { S: 'héllo' }, 6],
    ['a number is 1 byte per two significant digits + 1', { N: '123.45' }, 4],
    ['leading and trailing zeroes are trimmed', { N: '000120.0100' }, 4],
    ['a small integer', { N: '7' }, 2],
    ['a negative number in exponent form', { N: '-1.5E+10' }, 2],
    ['a binary is its raw bytes', { B: new Uint8Array(10) }, 10],
    ['a boolean is 1 byte', { BOOL: false }, 1],
    ['a null is 1 byte', { NULL: true }, 1],
    ['a string set is the sum of its elements', { SS: ['ab', 'c'] }, 3],
    ['a number set is the sum of its elements', { NS: ['1', '22'] }, 4],
    ['a list is 3 bytes + each element + 1', { L: [{ S: 'a' }, { N: '1' }] }, 3 + (1 + 1) + (2 + 1)],
    ['a map is 3 bytes + each name and element + 1', { M: { a: { S: 'xy' } } }, 3 + (1 + 2 + 1)],
    ['an empty map is 3 bytes', { M: {} }, 3],
  ])('%s', (_case, value, bytes) => {
    // Prepare / Act
    const size = attributeValueSize(value);

    // Assess
    expect(size).toBe(bytes);
  });

  it('adds up the attribute names (UTF-8) and values', () => {
    // Prepare
    const item = { pk: { S: 'user#1' }, ü: { N: '10' }, ok: { BOOL: true } };

    // Act
    const size = itemSize(item);

    // Assess: pk 2 + 6, ü 2 + (1 digit → 2), ok 2 + 1
    expect(size).toBe(8 + 4 + 3);
  });

  it('counts the significant digits of a number only', () => {
    expect(numberSize('1000000')).toBe(numberSize('1'));
    expect(numberSize('12345678901234567890123456789012345678')).toBe(20);
  });
});

describe('writeUnits and readUnits (DynamoDB read and write operations)', () => {
  it('bills a 3.5 KB write 4 WCU, a 1-byte write 1, exactly 1 KB 1 and one byte more 2', () => {
    expect(writeUnits(3.5 * KB)).toBe(4);
    expect(writeUnits(1)).toBe(1);
    expect(writeUnits(KB)).toBe(1);
    expect(writeUnits(KB + 1)).toBe(2);
  });

  it('doubles a write inside TransactWriteItems: a 500-byte item is 2 WCU', () => {
    expect(writeUnits(500, true)).toBe(2);
    expect(writeUnits(3.5 * KB, true)).toBe(8);
  });

  it('bills a 7 KB read 2 RCU strongly consistent, 1 eventually consistent, 4 transactional', () => {
    expect(readUnits(7 * KB, 'strong')).toBe(2);
    expect(readUnits(7 * KB, 'eventual')).toBe(1);
    expect(readUnits(7 * KB, 'transactional')).toBe(4);
  });

  it('rounds a 3,500-byte read up to 4 KB and a 10 KB read up to 12 KB', () => {
    expect(readUnits(3_500, 'strong')).toBe(1);
    expect(readUnits(10 * KB, 'strong')).toBe(3);
  });

  it('still bills the minimum for a missing item', () => {
    expect(readUnits(0, 'strong')).toBe(1);
    expect(readUnits(0, 'eventual')).toBe(0.5);
  });

  it('rounds BatchGetItem per item (1.5 KB + 6.5 KB = 12 KB) but Query on the total (8 KB)', () => {
    // Prepare: AWS's example of two items of 1.5 KB and 6.5 KB
    const sizes = [1.5 * KB, 6.5 * KB];

    // Act
    const batchGet = sizes.reduce((total, size) => total + readUnits(size, 'strong'), 0);
    const query = queryReadUnits(sizes, 'strong');

    // Assess
    expect(batchGet).toBe(3);
    expect(query).toBe(2);
    expect(queryReadUnits(sizes, 'eventual')).toBe(1);
    expect(queryReadUnits([], 'eventual')).toBe(0.5);
  });
});

describe('indexWrites (GSI throughput considerations)', () => {
  const table: TableShape = {
    name: 'items',
    partitionKey: 'pk',
    indexes: [
      { name: 'byGroup', partitionKey: 'gpk', sortKey: 'gsk', projection: 'KEYS_ONLY', nonKeyAttributes: [] },
      { name: 'withNote', partitionKey: 'npk', projection: 'INCLUDE', nonKeyAttributes: ['note'] },
    ],
  };
  const base = { pk: { S: 'u1' }, other: { S: 'x' } };

  it('costs nothing for an item in no index before or after', () => {
    expect(indexWrites(table, base, { ...base, other: { S: 'y' } })).toEqual([]);
  });

  it('costs 1 write to add an item to an index and 1 to remove it', () => {
    // Prepare
    const indexed = { ...base, gpk: { S: 'g1' }, gsk: { S: 's1' } };

    // Act
    const added = indexWrites(table, base, indexed);
    const removed = indexWrites(table, indexed, base);
    const deleted = indexWrites(table, indexed, undefined);

    // Assess
    expect(added).toEqual([{ index: 'byGroup', partitionKey: 'g1', units: 1, change: 'put' }]);
    expect(removed).toEqual([{ index: 'byGroup', partitionKey: 'g1', units: 1, change: 'delete' }]);
    expect(deleted).toEqual(removed);
  });

  it('costs 2 writes (delete + put) when an index key changes, in the old and the new partition', () => {
    // Prepare
    const before = { ...base, gpk: { S: 'g1' }, gsk: { S: 's1' } };

    // Act
    const movedPartition = indexWrites(table, before, { ...before, gpk: { S: 'g2' } });
    const movedSortKey = indexWrites(table, before, { ...before, gsk: { S: 's2' } });

    // Assess
    expect(movedPartition).toEqual([
      { index: 'byGroup', partitionKey: 'g1', units: 1, change: 'delete' },
      { index: 'byGroup', partitionKey: 'g2', units: 1, change: 'put' },
    ]);
    expect(movedSortKey.map((write) => write.change)).toEqual(['delete', 'put']);
  });

  it('is sparse: an item missing the index sort key is not in it', () => {
    expect(indexWrites(table, base, { ...base, gpk: { S: 'g1' } })).toEqual([]);
  });

  it('costs 1 write when only a projected attribute changes, none for an unprojected one', () => {
    // Prepare
    const before = { ...base, npk: { S: 'n' }, note: { S: 'a' } };

    // Act
    const projectedChange = indexWrites(table, before, { ...before, note: { S: 'b' } });
    const otherChange = indexWrites(table, before, { ...before, other: { S: 'z' } });

    // Assess
    expect(projectedChange).toEqual([{ index: 'withNote', partitionKey: 'n', units: 1, change: 'update' }]);
    expect(otherChange).toEqual([]);
  });

  it('bills each index write by the projected size, not the item size', () => {
    // Prepare: a 3 KB item; the index keeps its keys only, the ALL index all of it
    const all: TableShape = {
      ...table,
      indexes: [{ name: 'all', partitionKey: 'gpk', projection: 'ALL', nonKeyAttributes: [] }],
    };
    const keysOnly: TableShape = {
      ...table,
      indexes: [{ name: 'keys', partitionKey: 'gpk', projection: 'KEYS_ONLY', nonKeyAttributes: [] }],
    };
    const item = { pk: { S: 'u1' }, gpk: { S: 'g' }, big: { S: 'x'.repeat(3 * KB) } };

    // Act / Assess
    expect(indexWrites(all, undefined, item)[0]!.units).toBe(4);
    expect(indexWrites(keysOnly, undefined, item)[0]!.units).toBe(1);
  });
});

describe('TokenBucket', () => {
  it('starts full with one second of its rate and refills continuously, never above it', () => {
    // Prepare
    const bucket = new TokenBucket(10, 0);

    // Act
    bucket.take(10, 0);
    const empty = bucket.level(0);
    const half = bucket.level(500);
    const capped = bucket.level(60_000);

    // Assess
    expect(empty).toBe(0);
    expect(half).toBe(5);
    expect(capped).toBe(10);
  });

  it('covers what it holds and refuses more, except a full bucket takes one oversized request into debt', () => {
    // Prepare
    const bucket = new TokenBucket(10, 0);

    // Act / Assess
    expect(bucket.covers(25, 0)).toBe(true);
    bucket.take(25, 0);
    expect(bucket.level(0)).toBe(-15);
    expect(bucket.covers(1, 1_000)).toBe(false);
    expect(bucket.hasCredit(1_000)).toBe(false);
    expect(bucket.covers(5, 2_000)).toBe(true);
    expect(bucket.covers(6, 2_000)).toBe(false);
  });

  it('admits on credit only while not in debt', () => {
    // Prepare
    const bucket = new TokenBucket(4, 0);

    // Act
    bucket.take(5, 0);

    // Assess
    expect(bucket.hasCredit(0)).toBe(false);
    expect(bucket.hasCredit(250)).toBe(false);
    expect(bucket.hasCredit(251)).toBe(true);
  });
});

describe('projectAwsTime', () => {
  it('takes the slowest of partitions (1,000 WCU/s, 3,000 RCU/s) and tables (40,000/s), and says which', () => {
    // Prepare
    const partitions = new Map<string, Map<string, UnitTotals>>([
      [
        'cohorts',
        new Map([
          ['hot', { readUnits: 9_000, writeUnits: 12_000 }],
          ['cold', { readUnits: 10, writeUnits: 5 }],
        ]),
      ],
      ['cohorts/byCohort', new Map([['c1', { readUnits: 0, writeUnits: 2_000 }]])],
    ]);
    const byTable = {
      cohorts: { readUnits: 9_010, writeUnits: 400_000 },
      'cohorts/byCohort': { readUnits: 0, writeUnits: 2_000 },
    };

    // Act
    const projection = projectAwsTime({ byTable, partitions });

    // Assess: 12,000 ÷ 1,000 = 12 s beats 400,000 ÷ 40,000 = 10 s, 9,000 ÷ 3,000 = 3 s, 2,000 ÷ 1,000 = 2 s
    expect(projection.seconds).toBe(12);
    expect(projection.binding).toMatchObject({
      limit: 'partition write',
      scope: 'cohorts',
      partitionKey: 'hot',
      units: 12_000,
      unitsPerSecond: 1_000,
    });
    expect(projection.binding!.arithmetic).toBe(
      'busiest partition write of cohorts ("hot"): 12,000 units ÷ 1,000/s = 12.00 s',
    );
    expect(projection.terms.map((term) => [term.limit, term.seconds])).toEqual([
      ['partition write', 12],
      ['table write', 10],
      ['partition read', 3],
      ['index partition write', 2],
      ['table read', 9_010 / 40_000],
      ['index write', 2_000 / 40_000],
    ]);
  });

  it("adds up key values that share a physical partition, and uses a new table's rate when asked", () => {
    // Prepare: 64 shard keys of 100 write units each (6,400 units on the table).
    const keys = Array.from({ length: 64 }, (_, shard) => `ws#M${String(shard).padStart(2, '0')}#heap#big`);
    const partitions = new Map([['cohorts', new Map(keys.map((key) => [key, { readUnits: 0, writeUnits: 100 }]))]]);
    const byTable = { cohorts: { readUnits: 0, writeUnits: 6_400 } };

    // Act
    const ownPartitions = projectAwsTime({ byTable, partitions });
    const onEight = projectAwsTime({ byTable, partitions }, { physicalPartitions: 8 });
    const newTable = projectAwsTime({ byTable, partitions }, { tableUnits: NEW_TABLE_UNITS_PER_SECOND });

    // Assess: alone, a key's 100 units take 0.1 s; 64 keys on 8 partitions put at least 8 on
    // the busiest (pigeonhole), so at least 0.8 s; the busiest's units are the sum of its keys'.
    expect(ownPartitions.binding).toMatchObject({ limit: 'table write', seconds: 6_400 / 40_000 });
    const busiest = onEight.terms.find((term) => term.limit === 'partition write')!;
    const sharing = keys.filter((key) => physicalPartitionOf(key, { physicalPartitions: 8 }) === busiest.partitionKey);
    expect(busiest.partitionKey).toMatch(/^partition [0-7] of 8$/);
    expect(busiest.units).toBe(sharing.length * 100);
    expect(busiest.seconds).toBeGreaterThanOrEqual(0.8);
    expect(newTable.binding).toMatchObject({ limit: 'table write', unitsPerSecond: 4_000, seconds: 1.6 });
  });

  it('hashes a key value onto the same partition every time, spreading many keys over all of them', () => {
    const placement = { physicalPartitions: 16 };
    const seen = new Set(Array.from({ length: 1_000 }, (_, index) => physicalPartitionOf(`key-${index}`, placement)));
    expect(seen.size).toBe(16);
    expect(physicalPartitionOf('ws#M07#heap#big', placement)).toBe(physicalPartitionOf('ws#M07#heap#big', placement));
    expect(physicalPartitionOf('ws#M07#heap#big')).toBe('ws#M07#heap#big');
  });

  it('projects nothing for an empty trace', () => {
    expect(projectAwsTime({ byTable: {}, partitions: new Map() })).toEqual({
      seconds: 0,
      binding: undefined,
      terms: [],
    });
  });
});

describe('tableShapes', () => {
  it('reads the key schema and GSIs of each role from infra/tables.yml', () => {
    // Prepare / Act
    const shapes = tableShapes({ workspaces: 'w', users: 'u', cohorts: 'c' });

    // Assess
    const byName = new Map(shapes.map((shape) => [shape.name, shape]));
    expect(byName.get('w')).toEqual({ name: 'w', partitionKey: 'pk', sortKey: undefined, indexes: [] });
    expect(byName.get('u')?.indexes).toContainEqual({
      name: 'byWorkspace',
      partitionKey: 'wpk',
      sortKey: 'wsk',
      projection: 'KEYS_ONLY',
      nonKeyAttributes: [],
    });
    expect(byName.get('c')).toMatchObject({ partitionKey: 'pk', sortKey: 'sk' });
  });
});

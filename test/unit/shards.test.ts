import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { LEGACY_REGISTER_SHARDS, REGISTER_SHARDS, registerShardOf, SHARD_COUNTS } from '../../lib/dynamodb/shards.js';
import { PARTITION_WRITE_UNITS, TABLE_QUOTA_WRITE_UNITS } from '../../local/first-sync-forecast.js';
import { readNewCohortShards, shardsOfItem } from '../../lib/dynamodb/register-layout.js';

describe('register shards', () => {
  it('are enough that the table quota binds a big cohort, not its keys (1,000 WCU/s each)', () => {
    expect(REGISTER_SHARDS * PARTITION_WRITE_UNITS).toBeGreaterThan(TABLE_QUOTA_WRITE_UNITS);
    expect(LEGACY_REGISTER_SHARDS * PARTITION_WRITE_UNITS).toBeLessThan(TABLE_QUOTA_WRITE_UNITS);
  });

  it('spread 24-hex-digit braze_ids evenly over every shard, for each count', () => {
    for (const shards of SHARD_COUNTS) {
      // Prepare
      const counts = new Array<number>(shards).fill(0);
      // Act
      for (let index = 0; index < shards * 2_000; index += 1)
        counts[registerShardOf(randomBytes(12).toString('hex'), shards)]! += 1;
      // Assess: 2,000 expected per shard; ±15% is far outside chance for a uniform spread.
      for (const count of counts) expect(count).toBeGreaterThan(1_700);
      for (const count of counts) expect(count).toBeLessThan(2_300);
    }
  });

  it('are contiguous ranges: shard order is braze_id order, for any strings', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.constantFrom(...SHARD_COUNTS), (a, b, shards) => {
        // Assess: a ≤ b implies shard(a) ≤ shard(b), so reading shards in order is a sorted stream.
        if (a <= b) expect(registerShardOf(a, shards)).toBeLessThanOrEqual(registerShardOf(b, shards));
        else expect(registerShardOf(a, shards)).toBeGreaterThanOrEqual(registerShardOf(b, shards));
      }),
    );
  });

  it('map the first byte of a hex id to its 1/64 range (1/32 for a cohort first seen with 32)', () => {
    expect(registerShardOf('000000000000000000000000')).toBe(0);
    expect(registerShardOf('03ffffffffffffffffffffff')).toBe(0);
    expect(registerShardOf('040000000000000000000000')).toBe(1);
    expect(registerShardOf('080000000000000000000000')).toBe(2);
    expect(registerShardOf('ffffffffffffffffffffffff')).toBe(63);
    expect(registerShardOf('07ffffffffffffffffffffff', 32)).toBe(0);
    expect(registerShardOf('080000000000000000000000', 32)).toBe(1);
    expect(registerShardOf('f8ffffffffffffffffffffff', 32)).toBe(31);
    expect(() => registerShardOf('00', 48)).toThrow(/32 or 64/);
  });

  it("read a cohort's count from its item: absent (or not a count) is 32, the count it was created with otherwise", () => {
    expect(shardsOfItem({})).toBe(32);
    expect(shardsOfItem(undefined)).toBe(32);
    expect(shardsOfItem({ registerShards: 64 })).toBe(64);
    expect(shardsOfItem({ registerShards: 48 })).toBe(32);
    expect(readNewCohortShards({})).toBe(64);
    expect(readNewCohortShards({ REGISTER_SHARDS_FOR_NEW_COHORTS: '32' })).toBe(32);
    expect(() => readNewCohortShards({ REGISTER_SHARDS_FOR_NEW_COHORTS: '48' })).toThrow(/32 or 64/);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { REGISTER_SHARDS, registerShardOf } from '../../lib/dynamodb/shards.js';

describe('register shards', () => {
  it('spread 24-hex-digit braze_ids evenly over every shard', () => {
    // Prepare
    const counts = new Array<number>(REGISTER_SHARDS).fill(0);
    // Act
    for (let index = 0; index < 64_000; index += 1) counts[registerShardOf(randomBytes(12).toString('hex'))]! += 1;
    // Assess: 2,000 expected per shard; ±15% is far outside chance for a uniform spread.
    for (const count of counts) expect(count).toBeGreaterThan(1_700);
    for (const count of counts) expect(count).toBeLessThan(2_300);
  });

  it('are contiguous ranges: shard order is braze_id order, for any strings', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        // Assess: a ≤ b implies shard(a) ≤ shard(b), so reading shards in order is a sorted stream.
        if (a <= b) expect(registerShardOf(a)).toBeLessThanOrEqual(registerShardOf(b));
        else expect(registerShardOf(a)).toBeGreaterThanOrEqual(registerShardOf(b));
      }),
    );
  });

  it('map the first byte of a hex id to its 1/32 range', () => {
    expect(registerShardOf('000000000000000000000000')).toBe(0);
    expect(registerShardOf('07ffffffffffffffffffffff')).toBe(0);
    expect(registerShardOf('080000000000000000000000')).toBe(1);
    expect(registerShardOf('0a3000000000000000000000')).toBe(1);
    expect(registerShardOf('f8ffffffffffffffffffffff')).toBe(31);
    expect(registerShardOf('ffffffffffffffffffffffff')).toBe(31);
  });
});

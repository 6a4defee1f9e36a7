/**
 * Write sharding of a cohort's membership registers. A partition key value serves at
 * most 1,000 WCU/s (AWS: "Partitions and data distribution", DynamoDB Developer Guide);
 * a transactional register write costs 2 WCU, so one partition key caps a cohort at 500
 * changes/s, and N shards at N × 500.
 *
 * How many: enough that the table's write quota binds, not a key. The default table quota
 * is 40,000 WRU/s (DynamoDB "Service quotas", throughput per table), which 40 keys at
 * 1,000 WCU/s reach; shards split the first two hex digits of a braze_id evenly, so the
 * count divides 256: **64** (≈ 31,700 changes/s of keys at 2.02 WCU per change, above the
 * quota's ≈ 19,800). A 5M-member first sync then takes ≈ 4.2 minutes at the quota. Cohorts
 * first seen by a version that had 32 shards keep 32 (their item has no `registerShards`):
 * a cohort's registers never move, so nothing is migrated (register-layout.ts).
 *
 * Shards are contiguous ranges of braze_id, not hashes: braze_ids are 24 random hex
 * digits, so the first two digits spread users evenly, and reading shards 0…N−1 in order
 * yields a cohort's members sorted (segments merge sorted streams). Any string maps to
 * a shard monotonically, so a non-hex id still lands in order.
 */
export const REGISTER_SHARDS = 64;
/** The shards of a cohort first seen before `registerShards` was recorded on its item. */
export const LEGACY_REGISTER_SHARDS = 32;
/** The shard counts a cohort may have: each divides 256 (two hex digits). */
export const SHARD_COUNTS = [LEGACY_REGISTER_SHARDS, REGISTER_SHARDS] as const;

/** The lowest braze_id of each shard after the first: for 32, "08", "10", …, "f8". */
const shardStarts = new Map<number, string[]>(
  SHARD_COUNTS.map((shards) => [
    shards,
    Array.from({ length: shards - 1 }, (_, index) => ((index + 1) * (256 / shards)).toString(16).padStart(2, '0')),
  ]),
);

/** The shard whose range holds `brazeId` among `shards` (binary search over the shard starts). */
export const registerShardOf = (brazeId: string, shards: number = REGISTER_SHARDS): number => {
  const starts = shardStarts.get(shards);
  if (!starts) throw new RangeError(`a cohort has ${SHARD_COUNTS.join(' or ')} register shards, not ${shards}`);
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (starts[middle]! <= brazeId) low = middle + 1;
    else high = middle;
  }
  return low;
};

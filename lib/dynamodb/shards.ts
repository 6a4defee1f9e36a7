/**
 * Write sharding of a cohort's membership registers. A partition key value serves at
 * most 1,000 WCU/s (AWS: "Partitions and data distribution", DynamoDB Developer Guide);
 * a transactional register write costs 2 WCU, so one partition key caps a cohort at 500
 * changes/s. 32 shards raise that to 16,000 changes/s (32 × 1,000 ÷ 2), enough for a
 * 10M-member first sync in under 11 minutes.
 *
 * Shards are contiguous ranges of braze_id, not hashes: braze_ids are 24 random hex
 * digits, so the first two digits spread users evenly, and reading shards 0…31 in order
 * yields a cohort's members sorted (segments merge sorted streams). Any string maps to
 * a shard monotonically, so a non-hex id still lands in order.
 */
export const REGISTER_SHARDS = 32;

/** The lowest braze_id of each shard after the first: "08", "10", …, "f8". */
const SHARD_STARTS = Array.from({ length: REGISTER_SHARDS - 1 }, (_, index) =>
  ((index + 1) * (256 / REGISTER_SHARDS)).toString(16).padStart(2, '0'),
);

/** The shard whose range holds `brazeId`: how many shard starts are ≤ it (binary search). */
export const registerShardOf = (brazeId: string): number => {
  let low = 0;
  let high = SHARD_STARTS.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (SHARD_STARTS[middle]! <= brazeId) low = middle + 1;
    else high = middle;
  }
  return low;
};

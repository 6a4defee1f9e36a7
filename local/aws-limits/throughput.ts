/**
 * AWS's throughput limits (per partition, per table), where key values land (placement) and
 * the token bucket that enforces a rate. Part of the AWS limits model (local/aws-limits.ts,
 * where the [tags] are cited).
 */

/**
 * [partition] "each individual partition is limited to 1,000 write units per second and
 * 3,000 read units per second" — reads and writes throttled independently, for tables and
 * GSIs alike ([throttling]).
 */
export const PARTITION_WRITE_UNITS_PER_SECOND = 1_000;
export const PARTITION_READ_UNITS_PER_SECOND = 3_000;
/** [quota] On-demand default: 40,000 read request units and 40,000 write request units per table (and per GSI). */
export const TABLE_WRITE_UNITS_PER_SECOND = 40_000;
export const TABLE_READ_UNITS_PER_SECOND = 40_000;
/**
 * [warm] A new on-demand table (or index) without warm throughput set serves 4,000 write and
 * 12,000 read request units a second at once; it may then double its previous peak within
 * 30 minutes (the doubling is local/first-sync-forecast.ts's: a run here is shorter).
 */
export const NEW_TABLE_UNITS_PER_SECOND = { read: 12_000, write: 4_000 } as const;

/**
 * Where partition key values land, and what a table serves. By default each key value is its
 * own partition (the optimistic case) and every table its full quota. With `physicalPartitions`,
 * key values are hashed onto that many partitions per table (and per index), each with one
 * partition's 1,000 WCU / 3,000 RCU a second: [partition] a table holds many key values per
 * partition and splits one only for size or sustained heat, which this model never does within
 * a run. A warmed table of W write units a second has at least W ÷ 1,000 partitions.
 */
export interface Placement {
  physicalPartitions?: number;
  /** The table's (and each index's) rate before scaling: default the quota; a new table NEW_TABLE_UNITS_PER_SECOND. */
  tableUnits?: { read: number; write: number };
}

/** FNV-1a (32 bits) of the key text: a stable stand-in for DynamoDB's internal hash. */
const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
};

/** The partition a key value is charged to: its own, or one of `physicalPartitions` by hash. */
export const physicalPartitionOf = (partitionKey: string, placement: Placement = {}): string =>
  placement.physicalPartitions === undefined
    ? partitionKey
    : `partition ${fnv1a(partitionKey) % placement.physicalPartitions} of ${placement.physicalPartitions}`;

/**
 * A rate limit as a continuously refilled token bucket holding at most one second of its
 * rate: no burst credit (AWS keeps up to 300 s of unused capacity; not counting on it is the
 * conservative case). The level may go negative: a charge learnt after the fact (a read's
 * size) is a debt that later requests wait out.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly perSecond: number,
    now: number,
  ) {
    this.#tokens = perSecond;
    this.#at = now;
  }

  level(now: number): number {
    if (now > this.#at) {
      this.#tokens = Math.min(this.perSecond, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
      this.#at = now;
    }
    return this.#tokens;
  }

  /**
   * Room for `units` now. A full bucket takes a request larger than a second's worth (into
   * debt): at a scaled-down rate a legitimate 400 KB item could otherwise never pass.
   */
  covers(units: number, now: number): boolean {
    const level = this.level(now);
    return level >= units || level >= this.perSecond;
  }

  /** For charges known only after the answer: admitted while the bucket is not in debt. */
  hasCredit(now: number): boolean {
    return this.level(now) > 0;
  }

  isFull(now: number): boolean {
    return this.level(now) >= this.perSecond;
  }

  take(units: number, now: number): void {
    this.level(now);
    this.#tokens -= units;
  }
}

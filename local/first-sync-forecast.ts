/**
 * How long a first sync takes on AWS, forecast from a run's measured figures and AWS's
 * documented capacity rules for an on-demand table (issue 17). Pure arithmetic, so the model
 * is tested on its own (test/unit/first-sync-forecast.test.ts) and the bench prints it.
 *
 * Sources (DynamoDB Developer Guide):
 * - [new]     "Understanding DynamoDB warm throughput": a new on-demand table can serve
 *             4,000 write and 12,000 read request units a second at once (warm-throughput.html,
 *             "warm throughput of new on-demand tables").
 * - [double]  "DynamoDB on-demand capacity mode": a table scales to double its previous peak
 *             within 30 minutes; more than that within 30 minutes may throttle
 *             (on-demand-capacity-mode.html, "Initial throughput and scaling properties").
 * - [quota]   "Quotas": 40,000 write request units a second per table by default
 *             (ServiceQuotas.html#default-limits-throughput).
 * - [key]     "Partitions and data distribution": a partition serves at most 1,000 WCU a
 *             second; each register shard key is one partition at best (bp-partition-key-design.html).
 *
 * The model: capacity starts at the table's warm throughput and doubles every 30 minutes while
 * the sync keeps it busy (each window's peak is its capacity), up to the table quota; the
 * register shards cap it at shards × 1,000 WCU/s; the sync gets `utilisation` of what is
 * allowed (measured: the run's rate over its own ceiling). No burst credit and no adaptive
 * capacity is assumed, so the forecast is on the slow side.
 */
export const NEW_TABLE_WRITE_UNITS = 4_000;
export const TABLE_QUOTA_WRITE_UNITS = 40_000;
export const PARTITION_WRITE_UNITS = 1_000;
const WINDOW_SECONDS = 30 * 60;

export interface FirstSyncInput {
  changes: number;
  /** Billed write units per change, measured. */
  writeUnitsPerChange: number;
  /** What the table serves at once when the sync starts: its warm throughput. */
  warmWriteUnits: number;
  /** The table's quota (default 40,000 WRU/s). */
  quotaWriteUnits?: number;
  /** Register shards of one cohort (each one partition key). */
  shards: number;
  /** Share of the allowed rate the sync achieves, measured (0–1]. */
  utilisation: number;
}

export interface FirstSyncForecast {
  seconds: number;
  /** The write units a second allowed in each 30-minute window until done. */
  windows: number[];
}

export const forecastFirstSync = (input: FirstSyncInput): FirstSyncForecast => {
  if (!(input.utilisation > 0 && input.utilisation <= 1)) throw new RangeError('utilisation must be in (0, 1]');
  const quota = input.quotaWriteUnits ?? TABLE_QUOTA_WRITE_UNITS;
  const keyCeiling = input.shards * PARTITION_WRITE_UNITS;
  let remaining = input.changes * input.writeUnitsPerChange;
  let capacity = Math.min(input.warmWriteUnits, quota);
  let seconds = 0;
  const windows: number[] = [];
  while (remaining > 0) {
    const allowed = Math.min(capacity, keyCeiling) * input.utilisation;
    windows.push(allowed);
    const inWindow = allowed * WINDOW_SECONDS;
    if (inWindow >= remaining) return { seconds: seconds + remaining / allowed, windows };
    remaining -= inWindow;
    seconds += WINDOW_SECONDS;
    capacity = Math.min(capacity * 2, quota);
  }
  return { seconds, windows };
};

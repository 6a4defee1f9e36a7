/**
 * An opt-in model of AWS DynamoDB's limits at the SDK boundary, for the benchmark and the
 * tests (tooling: never bundled into a function). DynamoDB Local serves any rate and never
 * conflicts, so code that is correct there can still fall over on AWS; this middleware on
 * a real DynamoDBClient makes Local behave like AWS where it matters to the code under test:
 *
 * - it bills every request in AWS's units (item sizes, transactions, index writes);
 * - it refuses what AWS's throughput limits would refuse, before the request reaches
 *   DynamoDB Local, with the SDK's real exceptions — from inside the SDK's retry step, so
 *   the SDK's own retry strategy retries them as it would on AWS;
 * - it holds the items of in-flight transactions, so concurrent writes conflict as on AWS;
 * - it keeps a trace, from which `projectAwsTime` projects how long AWS's (unscaled)
 *   limits would need for the same requests.
 *
 * Sources (AWS documentation, DynamoDB Developer Guide unless said otherwise):
 * - [sizes]      DynamoDB item sizes and formats — CapacityUnitCalculations.html
 * - [units]      DynamoDB read and write operations — read-write-operations.html
 * - [partition]  Understanding DynamoDB warm throughput in different scenarios —
 *                warm-throughput-scenarios.html; bp-partition-key-design.html
 * - [warm]       Understanding DynamoDB warm throughput — warm-throughput.html ("new on-demand
 *                tables": 4,000 WRU / 12,000 RRU); On-demand capacity mode — on-demand-capacity-mode.html
 * - [throttling] Key range throughput exceeded (hot partitions) — throttling-key-range-limit-exceeded-mitigation.html;
 *                ThrottlingReason — API Reference, API_ThrottlingReason.html
 * - [quota]      Quotas in Amazon DynamoDB — ServiceQuotas.html#default-limits-throughput;
 *                DynamoDB maximum throughput for on-demand tables — on-demand-capacity-mode-max-throughput.html
 * - [gsi]        Using global secondary indexes — GSI.html#GSI.ThroughputConsiderations.Writes;
 *                GSI write throttling and back pressure — gsi-throttling.html
 * - [tx]         Amazon DynamoDB Transactions: How it works — transaction-apis.html
 *                (#transaction-capacity-handling, #transaction-conflict-handling)
 * - [conditional] Working with items: conditional writes — WorkingWithItems.html#WorkingWithItems.ConditionalUpdate
 * - [batch]      BatchWriteItem and BatchGetItem — API Reference, API_BatchWriteItem.html, API_BatchGetItem.html
 * (all under https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ or .../APIReference/)
 *
 * Where it differs from AWS, and why:
 * - Conservative throughput: no burst credit (AWS banks up to 300 s of unused capacity),
 *   no split for heat, no adaptive capacity: a partition key value never gets more than
 *   its 1,000 WCU / 3,000 RCU a second. Optimistic by default: each key value is its own
 *   partition (AWS may hold several on one until it splits them; `physicalPartitions` hashes
 *   them onto that many), and a table gets its full 40,000-unit quota at once (AWS starts a
 *   new one at 4,000 WRU / 12,000 RRU and doubles: `tableUnits: NEW_TABLE_UNITS_PER_SECOND`).
 * - Reads are billed by the items returned (their size is what the SDK sees), so with a
 *   projection, a filter or Select COUNT the units are a lower bound; and since the size
 *   is known only after, reads are admitted while their buckets are not in debt.
 * - An update's new item is known only after it: its index partitions are admitted on
 *   credit and charged after, like reads. The item before a write is read just before it,
 *   so a concurrent write to the same item can skew index accounting (not correctness).
 * - Without `raw`, no item is read: index writes are not counted, a put costs its new item
 *   (not the larger of old and new), a delete its key.
 * - Throttled requests and conflicts cost nothing; a write whose condition fails (alone or
 *   in a transaction) costs its base units.
 * - Partial batches are made by rewriting the signed request (DynamoDB Local does not check
 *   signatures). Transaction holds apply to TransactWriteItems, TransactGetItems and single
 *   writes, not to BatchWriteItem entries.
 *
 * The model lives in local/aws-limits/, one seam a module; this file is its entry point:
 * - units.ts       item sizes and read/write units
 * - throughput.ts  partition and table limits, placement of key values, the token bucket
 * - tables.ts      table shapes (from infra/tables.yml) and index writes
 * - stats.ts       the statistics and trace types; projection.ts  `projectAwsTime`
 * - middleware.ts  `applyAwsLimits`, which sends each command to its handler:
 *   writes.ts (Put/Update/Delete, TransactWriteItems, BatchWriteItem) and reads.ts (GetItem,
 *   Query/Scan, TransactGetItems, BatchGetItem), on the client's ledger.ts (buckets, held
 *   items, statistics), with errors.ts (AWS's exceptions) and commands.ts (what they share).
 */
export { applyAwsLimits, type AwsLimitsModel, type AwsLimitsOptions } from './aws-limits/middleware.js';
export { projectAwsTime, type AwsTimeProjection, type ProjectionTerm } from './aws-limits/projection.js';
export type { LimitsStats, Outcome, PartitionUnits, TraceEntry, UnitTotals } from './aws-limits/stats.js';
export {
  indexWrites,
  tableShape,
  tableShapes,
  type IndexShape,
  type IndexWrite,
  type TableShape,
} from './aws-limits/tables.js';
export {
  NEW_TABLE_UNITS_PER_SECOND,
  PARTITION_READ_UNITS_PER_SECOND,
  PARTITION_WRITE_UNITS_PER_SECOND,
  physicalPartitionOf,
  TABLE_READ_UNITS_PER_SECOND,
  TABLE_WRITE_UNITS_PER_SECOND,
  TokenBucket,
  type Placement,
} from './aws-limits/throughput.js';
export {
  attributeValueSize,
  itemSize,
  numberSize,
  queryReadUnits,
  READ_UNIT_BYTES,
  readUnits,
  WRITE_UNIT_BYTES,
  writeUnits,
  type Item,
  type ReadConsistency,
} from './aws-limits/units.js';

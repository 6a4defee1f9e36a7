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
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
  type AttributeValue,
  type CancellationReason,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Tables } from '../lib/config.js';
import { TABLE_RESOURCES } from './resources.js';

export type Item = Record<string, AttributeValue>;

// ---------------------------------------------------------------------------------------
// AWS's numbers
// ---------------------------------------------------------------------------------------

/** [quota] "All size measurements in DynamoDB use binary-based units ... 1 KB = 1024 bytes". */
const KB = 1024;
/** [units] One write unit per 1 KB written, rounded up. */
export const WRITE_UNIT_BYTES = 1 * KB;
/** [units] One (strongly consistent) read unit per 4 KB read, rounded up. */
export const READ_UNIT_BYTES = 4 * KB;
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

// ---------------------------------------------------------------------------------------
// Item sizes and units: pure, by AWS's rules
// ---------------------------------------------------------------------------------------

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
/** The SDK hands binaries as bytes; a base64 string (the wire form) is decoded first: [sizes] counts raw bytes. */
const binaryBytes = (value: Uint8Array | string) =>
  typeof value === 'string' ? Buffer.from(value, 'base64').byteLength : value.byteLength;

/** [sizes] "approximately ... (1 byte per two significant digits) + (1 byte)"; leading and trailing zeroes are trimmed. */
export const numberSize = (text: string): number => {
  const mantissa = text.trim().replace(/^[+-]/, '').split(/e/i)[0]!.replace('.', '');
  const significantDigits = mantissa.replace(/^0+/, '').replace(/0+$/, '').length;
  return Math.ceil(significantDigits / 2) + 1;
};

/** [sizes] The size of a value without its name; a list or map costs 3 bytes plus 1 per element. */
export const attributeValueSize = (value: AttributeValue): number => {
  if (value.S !== undefined) return utf8Bytes(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return binaryBytes(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return sum(value.SS.map(utf8Bytes));
  if (value.NS !== undefined) return sum(value.NS.map(numberSize));
  if (value.BS !== undefined) return sum(value.BS.map(binaryBytes));
  if (value.L !== undefined) return 3 + sum(value.L.map((element) => attributeValueSize(element) + 1));
  if (value.M !== undefined)
    return 3 + sum(Object.entries(value.M).map(([name, element]) => utf8Bytes(name) + attributeValueSize(element) + 1));
  return 0;
};

/** [sizes] "the sum of the lengths of its attribute names and values". */
export const itemSize = (item: Item): number =>
  sum(Object.entries(item).map(([name, value]) => utf8Bytes(name) + attributeValueSize(value)));

export type ReadConsistency = 'eventual' | 'strong' | 'transactional';
/** [units] Per 4 KB: ½ unit eventually consistent (the default), 1 strongly consistent, 2 transactional. */
const READ_UNITS_PER_4KB: Record<ReadConsistency, number> = { eventual: 0.5, strong: 1, transactional: 2 };

/**
 * [units] One item read by GetItem, by each key of BatchGetItem ("each item in the batch as
 * a separate GetItem request") or by TransactGetItems: its size rounded up to 4 KB; a
 * missing item still costs the minimum.
 */
export const readUnits = (bytes: number, consistency: ReadConsistency): number =>
  Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES)) * READ_UNITS_PER_4KB[consistency];

/** [units] Query and Scan: the sizes of all items read add up first, and only the total is rounded up to 4 KB. */
export const queryReadUnits = (itemBytes: readonly number[], consistency: 'eventual' | 'strong'): number =>
  readUnits(sum(itemBytes), consistency);

/** [units] ⌈size / 1 KB⌉, at least 1; [tx] doubled inside TransactWriteItems (a prepare and a commit write per item). */
export const writeUnits = (bytes: number, transactional = false): number =>
  Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES)) * (transactional ? 2 : 1);

// ---------------------------------------------------------------------------------------
// Table shapes, from infra/tables.yml
// ---------------------------------------------------------------------------------------

export interface IndexShape {
  name: string;
  partitionKey: string;
  sortKey?: string;
  projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  nonKeyAttributes: readonly string[];
}

export interface TableShape {
  name: string;
  partitionKey: string;
  sortKey?: string;
  indexes: readonly IndexShape[];
}

type KeySchema = CreateTableCommandInput['KeySchema'];
const keyNames = (schema: KeySchema) => ({
  partitionKey: schema?.find((key) => key.KeyType === 'HASH')?.AttributeName ?? '',
  sortKey: schema?.find((key) => key.KeyType === 'RANGE')?.AttributeName,
});

/** A table's shape from a CreateTable input, or from a CloudFormation table's Properties (the same names). */
export const tableShape = (
  name: string,
  definition: Pick<CreateTableCommandInput, 'KeySchema' | 'GlobalSecondaryIndexes'>,
): TableShape => ({
  name,
  ...keyNames(definition.KeySchema),
  indexes: (definition.GlobalSecondaryIndexes ?? []).map((index) => ({
    name: index.IndexName!,
    ...keyNames(index.KeySchema),
    projection: index.Projection?.ProjectionType ?? 'ALL',
    nonKeyAttributes: index.Projection?.NonKeyAttributes ?? [],
  })),
});

/** The deployed tables' shapes, read from infra/tables.yml now (not at import: the file's GSIs change under us). */
export const tableShapes = (tables: Tables): TableShape[] => {
  const file = fileURLToPath(new URL('../infra/tables.yml', import.meta.url));
  const resources = (
    parse(readFileSync(file, 'utf8')) as { Resources: Record<string, { Properties: CreateTableCommandInput }> }
  ).Resources;
  return (Object.entries(TABLE_RESOURCES) as [keyof Tables, string][]).map(([role, logicalId]) => {
    const properties = resources[logicalId]?.Properties;
    if (!properties) throw new Error(`infra/tables.yml has no ${logicalId}`);
    return tableShape(tables[role], properties);
  });
};

// ---------------------------------------------------------------------------------------
// Index writes
// ---------------------------------------------------------------------------------------

/** A partition key value as text (the trace's and the buckets' key). */
const keyText = (value: AttributeValue | undefined): string | undefined => {
  if (value?.S !== undefined) return value.S;
  if (value?.N !== undefined) return value.N;
  if (value?.B !== undefined) {
    // The SDK's type says bytes; a base64 string (the wire form) is already text.
    const bytes: Uint8Array | string = value.B;
    return typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64');
  }
  return undefined;
};

/** Order-independent text of a value, to tell whether a write changed it. */
const canonical = (value: unknown): string => {
  if (value instanceof Uint8Array) return `b:${Buffer.from(value).toString('base64')}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((name) => `${JSON.stringify(name)}:${canonical((value as Record<string, unknown>)[name])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
};

const pick = (item: Item, names: readonly (string | undefined)[]): Item =>
  Object.fromEntries(
    names
      .filter((name): name is string => name !== undefined && item[name] !== undefined)
      .map((name) => [name, item[name]!]),
  );

const inIndex = (index: IndexShape, item: Item | undefined): item is Item =>
  item !== undefined &&
  item[index.partitionKey] !== undefined &&
  (index.sortKey === undefined || item[index.sortKey] !== undefined);

/** What an index stores of an item: its keys, the table's keys, and what the projection adds. */
const projected = (table: TableShape, index: IndexShape, item: Item): Item =>
  index.projection === 'ALL'
    ? item
    : pick(item, [
        table.partitionKey,
        table.sortKey,
        index.partitionKey,
        index.sortKey,
        ...(index.projection === 'INCLUDE' ? index.nonKeyAttributes : []),
      ]);

export interface IndexWrite {
  index: string;
  /** The index partition the write lands in. */
  partitionKey: string;
  units: number;
  change: 'put' | 'delete' | 'update';
}

/**
 * [gsi] What a table write costs each global secondary index, from the item before and
 * after it: adding an indexed item is one write, removing one is one write, changing an
 * indexed key "from A to B" is two (a delete from the old place, a put in the new), and a
 * change to projected attributes only is one; an item in the index neither before nor after
 * costs nothing. Each write is ⌈projected size / 1 KB⌉ units. Index writes are not doubled
 * by transactions: [tx] doubles the table's item writes, the index is updated afterwards.
 */
export const indexWrites = (table: TableShape, before: Item | undefined, after: Item | undefined): IndexWrite[] =>
  table.indexes.flatMap((index): IndexWrite[] => {
    const was = inIndex(index, before) ? projected(table, index, before!) : undefined;
    const is = inIndex(index, after) ? projected(table, index, after!) : undefined;
    const write = (entry: Item, change: IndexWrite['change']): IndexWrite => ({
      index: index.name,
      partitionKey: keyText(entry[index.partitionKey])!,
      units: writeUnits(itemSize(entry)),
      change,
    });
    if (was && is) {
      const sameKey =
        canonical(pick(was, [index.partitionKey, index.sortKey])) ===
        canonical(pick(is, [index.partitionKey, index.sortKey]));
      if (!sameKey) return [write(was, 'delete'), write(is, 'put')];
      return canonical(was) === canonical(is) ? [] : [write(is, 'update')];
    }
    if (was) return [write(was, 'delete')];
    if (is) return [write(is, 'put')];
    return [];
  });

// ---------------------------------------------------------------------------------------
// Token buckets
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Trace and statistics
// ---------------------------------------------------------------------------------------

export type Outcome = 'ok' | 'throttled' | 'conflict' | 'error';

export interface UnitTotals {
  readUnits: number;
  writeUnits: number;
}

export interface PartitionUnits extends UnitTotals {
  table: string;
  index?: string;
  partitionKey: string;
}

export interface TraceEntry extends UnitTotals {
  /** Epoch milliseconds (the model's clock) when the answer (or refusal) came. */
  at: number;
  command: string;
  tables: string[];
  index?: string;
  /** Units charged per partition key value touched (table and index partitions). */
  partitions: PartitionUnits[];
  outcome: Outcome;
  /** The error's name (SDK exception) when the outcome is not ok. */
  error?: string;
  /** Batch entries returned unprocessed because their partition had no room. */
  unprocessed?: number;
}

export interface LimitsStats {
  scale: number;
  requests: number;
  outcomes: Record<Outcome, number>;
  /** Units by table, and by `table/index` for index partitions. */
  byTable: Record<string, UnitTotals>;
  byCommand: Record<string, UnitTotals & { requests: number } & Partial<Record<Outcome, number>>>;
  /** Throttles by AWS's ThrottlingReason (e.g. TableWriteKeyRangeThroughputExceeded), counting each refused batch entry. */
  throttles: Record<string, number>;
  /** Conflicts by exception: TransactionCanceledException (transaction vs transaction) or TransactionConflictException (write vs transaction). */
  conflicts: Record<string, number>;
  /** Units consumed per partition key value, by `table` or `table/index`. Live view: not copied. */
  partitions: ReadonlyMap<string, ReadonlyMap<string, UnitTotals>>;
}

export interface ProjectionTerm {
  limit:
    | 'partition write'
    | 'partition read'
    | 'index partition write'
    | 'index partition read'
    | 'table write'
    | 'table read'
    | 'index write'
    | 'index read';
  /** `table` or `table/index`. */
  scope: string;
  partitionKey?: string;
  units: number;
  unitsPerSecond: number;
  seconds: number;
  /** The line a benchmark can print, e.g. "busiest partition write of t (pk=a): 12,000 units ÷ 1,000/s = 12.00 s". */
  arithmetic: string;
}

export interface AwsTimeProjection {
  /** The least time AWS's unscaled limits allow for the traced requests. */
  seconds: number;
  /** The term that sets it. */
  binding?: ProjectionTerm;
  /** Every term, slowest first. */
  terms: ProjectionTerm[];
}

const scopeOf = (table: string, index?: string) => (index ? `${table}/${index}` : table);

/**
 * The seconds AWS's default limits would need for the requests a stats object counts: no
 * partition can take more than 1,000 write / 3,000 read units a second, nor a table (or an
 * index) more than 40,000 of each, so the busiest of them bounds the run from below.
 */
export const projectAwsTime = (
  stats: Pick<LimitsStats, 'byTable' | 'partitions'>,
  placement: Placement = {},
): AwsTimeProjection => {
  const terms: ProjectionTerm[] = [];
  const tableUnits = placement.tableUnits ?? { read: TABLE_READ_UNITS_PER_SECOND, write: TABLE_WRITE_UNITS_PER_SECOND };
  const term = (
    limit: ProjectionTerm['limit'],
    scope: string,
    units: number,
    unitsPerSecond: number,
    partitionKey?: string,
  ) => {
    const seconds = units / unitsPerSecond;
    const where = partitionKey === undefined ? scope : `${scope} (${JSON.stringify(partitionKey)})`;
    const figure = (value: number) => value.toLocaleString('en-US');
    terms.push({
      limit,
      scope,
      partitionKey,
      units,
      unitsPerSecond,
      seconds,
      arithmetic: `${partitionKey === undefined ? '' : 'busiest '}${limit} of ${where}: ${figure(units)} units ÷ ${figure(unitsPerSecond)}/s = ${seconds.toFixed(2)} s`,
    });
  };
  for (const [scope, byKey] of stats.partitions) {
    const onIndex = scope.includes('/');
    let busiestWrite: [string, number] | undefined;
    let busiestRead: [string, number] | undefined;
    // Key values on one physical partition share its rate: their units add up.
    const partitions = new Map<string, UnitTotals>();
    for (const [partitionKey, units] of byKey) {
      const partition = physicalPartitionOf(partitionKey, placement);
      const totals = partitions.get(partition) ?? { readUnits: 0, writeUnits: 0 };
      totals.readUnits += units.readUnits;
      totals.writeUnits += units.writeUnits;
      partitions.set(partition, totals);
    }
    for (const [partitionKey, units] of partitions) {
      if (units.writeUnits > (busiestWrite?.[1] ?? 0)) busiestWrite = [partitionKey, units.writeUnits];
      if (units.readUnits > (busiestRead?.[1] ?? 0)) busiestRead = [partitionKey, units.readUnits];
    }
    if (busiestWrite)
      term(
        onIndex ? 'index partition write' : 'partition write',
        scope,
        busiestWrite[1],
        PARTITION_WRITE_UNITS_PER_SECOND,
        busiestWrite[0],
      );
    if (busiestRead)
      term(
        onIndex ? 'index partition read' : 'partition read',
        scope,
        busiestRead[1],
        PARTITION_READ_UNITS_PER_SECOND,
        busiestRead[0],
      );
  }
  for (const [scope, units] of Object.entries(stats.byTable)) {
    const onIndex = scope.includes('/');
    if (units.writeUnits > 0) term(onIndex ? 'index write' : 'table write', scope, units.writeUnits, tableUnits.write);
    if (units.readUnits > 0) term(onIndex ? 'index read' : 'table read', scope, units.readUnits, tableUnits.read);
  }
  terms.sort((a, b) => b.seconds - a.seconds);
  return { seconds: terms[0]?.seconds ?? 0, binding: terms[0], terms };
};

// ---------------------------------------------------------------------------------------
// The middleware
// ---------------------------------------------------------------------------------------

export interface AwsLimitsOptions extends Placement {
  tables: readonly TableShape[];
  /** Divides every rate (20 → 50 write units a second per partition), so a small machine can reach the limits. */
  scale?: number;
  /**
   * A client on the same endpoint without this middleware. Index accounting needs the item
   * before a write (and after an update); with `raw`, tables with GSIs get a consistent
   * GetItem before each write and after each update. Without it, index writes are not
   * counted. These reads are the model's instrument, not billed.
   */
  raw?: DynamoDBClient;
  /** Milliseconds; the buckets' and the trace's clock. */
  now?: () => number;
  /** Keep every request's trace entry in `requests` (memory grows with the run). */
  keepRequests?: boolean;
}

export interface AwsLimitsModel {
  /** Off: requests pass untouched and uncounted (to seed data before a measured run). */
  enabled: boolean;
  readonly scale: number;
  stats(): LimitsStats;
  /** Trace entries, when `keepRequests`. */
  readonly requests: TraceEntry[];
  /** Empties the buckets, the statistics and the trace; in-flight transactions keep their items held. */
  reset(): void;
}

interface Charge {
  table: string;
  index?: string;
  /** Absent for a charge only the table's quota sees (Scan). */
  partitionKey?: string;
  kind: 'read' | 'write';
  units: number;
  /** Units known only after the answer: admitted while the buckets are not in debt. */
  onCredit?: boolean;
}

interface Refusal {
  reason: string;
  resource: string;
  /** A table (or index) quota rather than a partition. */
  quota: boolean;
}

/** The deserialize step's view of a call: the marshalled input and the serialized, signed HTTP request. */
interface HandlerArgs {
  input: Record<string, unknown>;
  request?: unknown;
}
type Handler = (args: HandlerArgs) => Promise<{ output: Record<string, unknown>; response: unknown }>;

/** Held items' ids: the table and its key's values. */
const itemId = (table: TableShape, key: Item) =>
  `${table.name}\u0000${canonical(pick(key, [table.partitionKey, table.sortKey]))}`;

const awsError = { $metadata: { httpStatusCode: 400 } };
/** AWS's messages, as the TransactWriteItems reference lists them for ThrottlingError and TransactionConflict. */
const throttleMessage =
  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. ' +
  'If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html';
const conflictMessage = 'Transaction is ongoing for the item.';
const conflictReason = { Code: 'TransactionConflict', Message: conflictMessage };
const throttledReason = { Code: 'ThrottlingError', Message: throttleMessage };
/** [throttling] The SDK's exceptions, with AWS's ThrottlingReasons (Table|Index, Read|Write, KeyRange…|AccountLimit…). */
const throttleError = (refusal: Refusal) => {
  const reasons = [{ reason: refusal.reason, resource: refusal.resource }];
  return refusal.quota
    ? new ThrottlingException({ ...awsError, message: throttleMessage, throttlingReasons: reasons })
    : new ProvisionedThroughputExceededException({ ...awsError, message: throttleMessage, ThrottlingReasons: reasons });
};

const transactionCanceled = (reasons: CancellationReason[]) =>
  new TransactionCanceledException({
    ...awsError,
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`,
    CancellationReasons: reasons,
  });

const errorName = (error: unknown) => (error instanceof Error ? error.name : 'Error');

/** [conditional] A write whose condition evaluates to false still consumes write capacity; other failures cost nothing here. */
const conditionFailed = (error: unknown) =>
  errorName(error) === 'ConditionalCheckFailedException' ||
  (error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed'));

/**
 * The serialized request with batch entries left out. It runs after signing: DynamoDB Local
 * does not check signatures, and this model never talks to AWS. A copy, so that a retried
 * attempt starts from the whole request again.
 */
const withBody = (request: unknown, edit: (body: { RequestItems: Record<string, unknown> }) => void) => {
  const original = request as { body: string | Uint8Array; headers: Record<string, string> };
  // TextDecoder reads the bytes (the SDK's body type overrides valueOf, which Buffer.from would call).
  const body = JSON.parse(typeof original.body === 'string' ? original.body : new TextDecoder().decode(original.body));
  edit(body);
  const text = JSON.stringify(body);
  return {
    ...original,
    headers: { ...original.headers, 'content-length': String(Buffer.byteLength(text)) },
    body: text,
  };
};

export const applyAwsLimits = (client: DynamoDBClient, options: AwsLimitsOptions): AwsLimitsModel => {
  const scale = options.scale ?? 1;
  const now = options.now ?? Date.now;
  const shapes = new Map(options.tables.map((table) => [table.name, table]));
  const rate = {
    partition: { read: PARTITION_READ_UNITS_PER_SECOND / scale, write: PARTITION_WRITE_UNITS_PER_SECOND / scale },
    quota: {
      read: (options.tableUnits?.read ?? TABLE_READ_UNITS_PER_SECOND) / scale,
      write: (options.tableUnits?.write ?? TABLE_WRITE_UNITS_PER_SECOND) / scale,
    },
  };

  let buckets = new Map<string, TokenBucket>();
  let takesSincePrune = 0;
  /** Items held by in-flight transactions (a count: a retried transaction may overlap its earlier attempt). */
  const held = new Map<string, number>();
  let stats: LimitsStats;
  const requests: TraceEntry[] = [];
  const freshStats = (): LimitsStats => ({
    scale,
    requests: 0,
    outcomes: { ok: 0, throttled: 0, conflict: 0, error: 0 },
    byTable: {},
    byCommand: {},
    throttles: {},
    conflicts: {},
    partitions: new Map(),
  });
  stats = freshStats();

  // -- buckets --------------------------------------------------------------------------

  /** The buckets a charge draws on: its partition's, then its table's (or index's) quota. */
  const bucketsOf = (charge: Charge): { key: string; bucket: TokenBucket; refusal: Refusal }[] => {
    const scope = scopeOf(charge.table, charge.index);
    const resourceType = charge.index ? 'Index' : 'Table';
    const operation = charge.kind === 'read' ? 'Read' : 'Write';
    const resource = `arn:aws:dynamodb:local:000000000000:table/${charge.table}${charge.index ? `/index/${charge.index}` : ''}`;
    const bucket = (key: string, perSecond: number) => {
      let found = buckets.get(key);
      if (!found) buckets.set(key, (found = new TokenBucket(perSecond, now())));
      return found;
    };
    const result = [];
    if (charge.partitionKey !== undefined) {
      const key = `${charge.kind}|${scope}|${physicalPartitionOf(charge.partitionKey, options)}`;
      const refusal = { reason: `${resourceType}${operation}KeyRangeThroughputExceeded`, resource, quota: false };
      result.push({ key, bucket: bucket(key, rate.partition[charge.kind]), refusal });
    }
    const key = `${charge.kind}|${scope}`;
    const refusal = { reason: `${resourceType}${operation}AccountLimitExceeded`, resource, quota: true };
    result.push({ key, bucket: bucket(key, rate.quota[charge.kind]), refusal });
    return result;
  };

  /**
   * Whether the buckets can take these charges together (a request's charges on one bucket
   * add up): the refusals, partitions first, with the charges each refusal refuses.
   */
  const refusals = (charges: readonly Charge[]): { refusal: Refusal; charges: Set<Charge> }[] => {
    const needs = new Map<string, { bucket: TokenBucket; units: number; refusal: Refusal; charges: Set<Charge> }>();
    for (const charge of charges) {
      for (const { key, bucket, refusal } of bucketsOf(charge)) {
        const need = needs.get(key) ?? { bucket, units: 0, refusal, charges: new Set<Charge>() };
        if (!charge.onCredit) need.units += charge.units;
        need.charges.add(charge);
        needs.set(key, need);
      }
    }
    const at = now();
    return [...needs.values()]
      .filter((need) => (need.units > 0 ? !need.bucket.covers(need.units, at) : !need.bucket.hasCredit(at)))
      .sort((a, b) => Number(a.refusal.quota) - Number(b.refusal.quota))
      .map((need) => ({ refusal: need.refusal, charges: need.charges }));
  };

  const take = (charges: readonly Charge[], sign = 1) => {
    const at = now();
    for (const charge of charges) for (const { bucket } of bucketsOf(charge)) bucket.take(sign * charge.units, at);
    // Full buckets are forgotten (a new one starts full): the map holds the last second's partitions only.
    if ((takesSincePrune += 1) >= 10_000) {
      takesSincePrune = 0;
      for (const [key, bucket] of buckets) if (bucket.isFull(at)) buckets.delete(key);
    }
  };

  /** Replaces what admission took by what the request really cost. */
  const settle = (admitted: readonly Charge[], final: readonly Charge[]) => {
    take(admitted, -1);
    take(final);
  };

  // -- trace ----------------------------------------------------------------------------

  interface Finished {
    command: string;
    tables: string[];
    index?: string;
    /** What the request finally cost (nothing when refused). */
    charges: readonly Charge[];
    outcome: Outcome;
    error?: unknown;
    throttles?: readonly Refusal[];
    unprocessed?: number;
  }

  const finish = (entry: Finished) => {
    const partitions = new Map<string, PartitionUnits>();
    let readTotal = 0;
    let writeTotal = 0;
    for (const charge of entry.charges) {
      const scope = scopeOf(charge.table, charge.index);
      const field = charge.kind === 'read' ? 'readUnits' : 'writeUnits';
      if (charge.kind === 'read') readTotal += charge.units;
      else writeTotal += charge.units;
      const table = (stats.byTable[scope] ??= { readUnits: 0, writeUnits: 0 });
      table[field] += charge.units;
      if (charge.partitionKey === undefined) continue;
      const byKey = stats.partitions as Map<string, Map<string, UnitTotals>>;
      let scopePartitions = byKey.get(scope);
      if (!scopePartitions) byKey.set(scope, (scopePartitions = new Map()));
      let totals = scopePartitions.get(charge.partitionKey);
      if (!totals) scopePartitions.set(charge.partitionKey, (totals = { readUnits: 0, writeUnits: 0 }));
      totals[field] += charge.units;
      const traceKey = `${scope}|${charge.partitionKey}`;
      let traced = partitions.get(traceKey);
      if (!traced) {
        traced = {
          table: charge.table,
          ...(charge.index ? { index: charge.index } : {}),
          partitionKey: charge.partitionKey,
          readUnits: 0,
          writeUnits: 0,
        };
        partitions.set(traceKey, traced);
      }
      traced[field] += charge.units;
    }
    stats.requests += 1;
    stats.outcomes[entry.outcome] += 1;
    const command = (stats.byCommand[entry.command] ??= { requests: 0, readUnits: 0, writeUnits: 0 });
    command.requests += 1;
    command.readUnits += readTotal;
    command.writeUnits += writeTotal;
    command[entry.outcome] = (command[entry.outcome] ?? 0) + 1;
    for (const refusal of entry.throttles ?? [])
      stats.throttles[refusal.reason] = (stats.throttles[refusal.reason] ?? 0) + 1;
    if (entry.outcome === 'conflict')
      stats.conflicts[errorName(entry.error)] = (stats.conflicts[errorName(entry.error)] ?? 0) + 1;
    if (options.keepRequests) {
      requests.push({
        at: now(),
        command: entry.command,
        tables: entry.tables,
        ...(entry.index ? { index: entry.index } : {}),
        partitions: [...partitions.values()],
        readUnits: readTotal,
        writeUnits: writeTotal,
        outcome: entry.outcome,
        ...(entry.outcome === 'ok' ? {} : { error: errorName(entry.error) }),
        ...(entry.unprocessed ? { unprocessed: entry.unprocessed } : {}),
      });
    }
  };

  // -- shared pieces --------------------------------------------------------------------

  const readItem = async (table: TableShape, key: Item): Promise<Item | undefined> => {
    const result = await options.raw!.send(
      new GetItemCommand({
        TableName: table.name,
        Key: pick(key, [table.partitionKey, table.sortKey]),
        ConsistentRead: true,
      }),
    );
    return result.Item;
  };
  /** Index accounting needs the item before (and after) a write: only tables with GSIs, only with `raw`. */
  const tracksIndexes = (table: TableShape) => options.raw !== undefined && table.indexes.length > 0;
  const partitionOf = (table: TableShape, item: Item) => keyText(item[table.partitionKey])!;
  const indexCharges = (table: TableShape, writes: readonly IndexWrite[]): Charge[] =>
    writes.map((write) => ({
      table: table.name,
      index: write.index,
      partitionKey: write.partitionKey,
      kind: 'write',
      units: write.units,
    }));
  /** An update's index entries are known only after it: its old index partitions must not be in debt. */
  const creditForIndexes = (table: TableShape, before: Item | undefined): Charge[] =>
    table.indexes
      .filter((index) => inIndex(index, before))
      .map((index) => ({
        table: table.name,
        index: index.name,
        partitionKey: keyText(before![index.partitionKey])!,
        kind: 'write',
        units: 0,
        onCredit: true,
      }));
  /** Output items come unmarshalled when the command came through lib-dynamodb (its unmarshalling sits below this step). */
  const outputItem = (value: unknown, mapped: boolean): Item | undefined =>
    value === undefined || value === null
      ? undefined
      : mapped
        ? marshall(value as Record<string, unknown>, { convertClassInstanceToMap: true })
        : (value as Item);

  interface WriteAction {
    kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
    table: TableShape;
    key: Item;
    item?: Item;
    input: Record<string, unknown>;
  }

  const writeAction = (kind: WriteAction['kind'], input: Record<string, unknown>): WriteAction | undefined => {
    const table = shapes.get(input.TableName as string);
    if (!table) return undefined;
    const item = kind === 'Put' ? (input.Item as Item) : undefined;
    const key = item ? pick(item, [table.partitionKey, table.sortKey]) : (input.Key as Item);
    return { kind, table, key, item, input };
  };

  /**
   * [units] What a write costs at admission: a put the larger of the old and new item, a
   * delete (or condition check) the old item, an update the larger of the old item and
   * what it writes (key + values; corrected once the new item is read). Without the old
   * item (tables without GSIs are not read), what the request itself carries.
   */
  const baseCharge = (action: WriteAction, before: Item | undefined, transactional: boolean): Charge => {
    const oldSize = before ? itemSize(before) : 0;
    const keySize = itemSize(action.key);
    const written =
      action.kind === 'Put'
        ? itemSize(action.item!)
        : action.kind === 'Update'
          ? keySize + sum(Object.values((action.input.ExpressionAttributeValues ?? {}) as Item).map(attributeValueSize))
          : keySize;
    const units = writeUnits(Math.max(oldSize, written), transactional);
    return { table: action.table.name, partitionKey: partitionOf(action.table, action.key), kind: 'write', units };
  };

  const admissionIndexCharges = (action: WriteAction, before: Item | undefined): Charge[] => {
    if (!tracksIndexes(action.table) || action.kind === 'ConditionCheck') return [];
    if (action.kind === 'Update') return creditForIndexes(action.table, before);
    return indexCharges(
      action.table,
      indexWrites(action.table, before, action.kind === 'Put' ? action.item : undefined),
    );
  };

  /** After an update: its real base size and index writes, from the new item. */
  const updateCharges = async (
    action: WriteAction,
    before: Item | undefined,
    transactional: boolean,
  ): Promise<Charge[]> => {
    const after = await readItem(action.table, action.key);
    const base = { ...baseCharge(action, before, transactional) };
    base.units = Math.max(base.units, writeUnits(after ? itemSize(after) : 0, transactional));
    return [base, ...indexCharges(action.table, indexWrites(action.table, before, after))];
  };

  // -- single-item writes ---------------------------------------------------------------

  const singleWrite = async (
    command: string,
    kind: WriteAction['kind'],
    input: Record<string, unknown>,
    forward: () => ReturnType<Handler>,
  ) => {
    const action = writeAction(kind, input);
    if (!action) return forward();
    const tables = [action.table.name];
    const before = tracksIndexes(action.table) ? await readItem(action.table, action.key) : undefined;
    // [tx] "A PutItem, UpdateItem, or DeleteItem request for an item conflicts with an ongoing TransactWriteItems request that includes the same item."
    if (held.has(itemId(action.table, action.key))) {
      const error = new TransactionConflictException({ ...awsError, message: conflictMessage });
      finish({ command, tables, charges: [], outcome: 'conflict', error });
      throw error;
    }
    const base = baseCharge(action, before, false);
    const admitted = [base, ...admissionIndexCharges(action, before)];
    // [gsi] When an index partition cannot take its write, DynamoDB throttles the write to the base table.
    const refused = refusals(admitted)[0];
    if (refused) {
      const error = throttleError(refused.refusal);
      finish({ command, tables, charges: [], outcome: 'throttled', error, throttles: [refused.refusal] });
      throw error;
    }
    take(admitted);
    let result: Awaited<ReturnType<Handler>>;
    try {
      result = await forward();
    } catch (error: unknown) {
      const final = conditionFailed(error) ? [base] : [];
      settle(admitted, final);
      finish({ command, tables, charges: final, outcome: 'error', error });
      throw error;
    }
    const final =
      kind === 'Update' && tracksIndexes(action.table) ? await updateCharges(action, before, false) : admitted;
    settle(admitted, final);
    finish({ command, tables, charges: final, outcome: 'ok' });
    return result;
  };

  // -- TransactWriteItems ---------------------------------------------------------------

  const transactWrite = async (input: Record<string, unknown>, forward: () => ReturnType<Handler>) => {
    const command = 'TransactWriteItems';
    const actions = (input.TransactItems as Record<string, Record<string, unknown>>[]).map((entry) => {
      const kind = (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).find((name) => entry[name] !== undefined)!;
      return writeAction(kind, entry[kind]!);
    });
    if (actions.some((action) => action === undefined)) return forward();
    const known = actions as WriteAction[];
    const tables = [...new Set(known.map((action) => action.table.name))];
    const befores = await Promise.all(
      known.map((action) =>
        tracksIndexes(action.table) && action.kind !== 'ConditionCheck'
          ? readItem(action.table, action.key)
          : undefined,
      ),
    );
    const ids = known.map((action) => itemId(action.table, action.key));

    // [tx] "An item within a TransactWriteItems request is part of another ongoing TransactWriteItems request."
    if (ids.some((id) => held.has(id))) {
      const error = transactionCanceled(ids.map((id) => (held.has(id) ? conflictReason : { Code: 'None' })));
      finish({ command, tables, charges: [], outcome: 'conflict', error });
      throw error;
    }
    const perAction = known.map((action, index) => [
      baseCharge(action, befores[index], true),
      ...admissionIndexCharges(action, befores[index]),
    ]);
    const admitted = perAction.flat();
    const refused = refusals(admitted);
    if (refused.length > 0) {
      const throttled = new Set(refused.flatMap(({ charges }) => [...charges]));
      const error = transactionCanceled(
        perAction.map((charges) =>
          charges.some((charge) => throttled.has(charge)) ? throttledReason : { Code: 'None' },
        ),
      );
      finish({
        command,
        tables,
        charges: [],
        outcome: 'throttled',
        error,
        throttles: refused.map(({ refusal }) => refusal),
      });
      throw error;
    }

    // [tx] Held from admission until the answer: concurrent writes to these items conflict.
    for (const id of ids) held.set(id, (held.get(id) ?? 0) + 1);
    take(admitted);
    let result: Awaited<ReturnType<Handler>>;
    try {
      result = await forward();
    } catch (error: unknown) {
      // A transaction cancelled by a condition is billed like a failed conditional write; no index entry changed.
      const final = conditionFailed(error) ? perAction.map((charges) => charges[0]!) : [];
      settle(admitted, final);
      const conflict = errorName(error) === 'TransactionCanceledException' && !conditionFailed(error);
      finish({ command, tables, charges: final, outcome: conflict ? 'conflict' : 'error', error });
      throw error;
    } finally {
      // Released at the answer, as on AWS. An update's new item is read after this, so a
      // write landing in between can skew its index accounting (not its admission).
      for (const id of ids) {
        const count = held.get(id)! - 1;
        if (count > 0) held.set(id, count);
        else held.delete(id);
      }
    }
    const final = (
      await Promise.all(
        known.map((action, index) =>
          action.kind === 'Update' && tracksIndexes(action.table)
            ? updateCharges(action, befores[index], true)
            : Promise.resolve(perAction[index]!),
        ),
      )
    ).flat();
    settle(admitted, final);
    finish({ command, tables, charges: final, outcome: 'ok' });
    return result;
  };

  // -- BatchWriteItem -------------------------------------------------------------------

  /**
   * [batch] Entries whose partition has no room come back in UnprocessedItems; only when it
   * "cannot process any items due to throttling" does the call fail, with
   * ProvisionedThroughputExceededException or ThrottlingException.
   */
  const batchWrite = async (input: Record<string, unknown>, handler: Handler, args: HandlerArgs, mapped: boolean) => {
    const command = 'BatchWriteItem';
    const requestItems = input.RequestItems as Record<string, Record<string, { Item?: Item; Key?: Item }>[]>;
    const entries = Object.entries(requestItems).flatMap(([tableName, writes]) =>
      writes.map((write, position) => {
        const kind = write.PutRequest ? 'Put' : 'Delete';
        const action = writeAction(kind, { TableName: tableName, ...(write.PutRequest ?? write.DeleteRequest) });
        return { tableName, position, write, action };
      }),
    );
    const tables = Object.keys(requestItems);
    const befores = await Promise.all(
      entries.map(({ action }) =>
        action && tracksIndexes(action.table) ? readItem(action.table, action.key) : undefined,
      ),
    );
    const admitted: Charge[] = [];
    const unprocessed: typeof entries = [];
    const throttles: Refusal[] = [];
    entries.forEach((entry, index) => {
      if (!entry.action) return;
      const charges = [
        baseCharge(entry.action, befores[index], false),
        ...admissionIndexCharges(entry.action, befores[index]),
      ];
      const refused = refusals(charges)[0];
      if (refused) {
        unprocessed.push(entry);
        throttles.push(refused.refusal);
        return;
      }
      take(charges);
      admitted.push(...charges);
    });
    if (unprocessed.length > 0 && unprocessed.length === entries.length) {
      const error = throttleError(throttles[0]!);
      finish({ command, tables, charges: [], outcome: 'throttled', error, throttles });
      throw error;
    }
    const request =
      unprocessed.length === 0
        ? args.request
        : withBody(args.request, (body) => {
            for (const tableName of tables) {
              const isLeft = (position: number) =>
                unprocessed.some((entry) => entry.tableName === tableName && entry.position === position);
              const kept = (body.RequestItems[tableName] as unknown[]).filter((_, position) => !isLeft(position));
              if (kept.length > 0) body.RequestItems[tableName] = kept;
              else delete body.RequestItems[tableName];
            }
          });
    let result: Awaited<ReturnType<Handler>>;
    try {
      result = await handler({ ...args, request });
    } catch (error: unknown) {
      take(admitted, -1);
      finish({ command, tables, charges: [], outcome: 'error', error, throttles });
      throw error;
    }
    if (unprocessed.length > 0) {
      const output = result.output as { UnprocessedItems?: Record<string, unknown[]> };
      const pending = (output.UnprocessedItems ??= {});
      for (const { tableName, write } of unprocessed) {
        const native = mapped
          ? write.PutRequest
            ? { PutRequest: { Item: unmarshall(write.PutRequest.Item!) } }
            : { DeleteRequest: { Key: unmarshall(write.DeleteRequest!.Key!) } }
          : write;
        (pending[tableName] ??= []).push(native);
      }
    }
    finish({ command, tables, charges: admitted, outcome: 'ok', throttles, unprocessed: unprocessed.length });
    return result;
  };

  // -- reads ----------------------------------------------------------------------------

  /** The partition key value a query names: `pk = :v` in KeyConditionExpression (or the legacy KeyConditions). */
  const queriedPartition = (input: Record<string, unknown>, attribute: string): string | undefined => {
    const legacy = (input.KeyConditions as Record<string, { AttributeValueList?: AttributeValue[] }> | undefined)?.[
      attribute
    ];
    if (legacy) return keyText(legacy.AttributeValueList?.[0]);
    const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = (input.ExpressionAttributeValues ?? {}) as Item;
    for (const condition of String(input.KeyConditionExpression ?? '').split(/\s+and\s+/i)) {
      const match = /^\s*\(?\s*([#\w.-]+)\s*=\s*(:[\w-]+)\s*\)?\s*$/.exec(condition);
      if (match && (names[match[1]!] ?? match[1]) === attribute) return keyText(values[match[2]!]);
    }
    return undefined;
  };

  /**
   * Reads are billed by the size of what they read, known only from the answer: admitted
   * while their buckets are not in debt, charged after (the bucket may go negative). Sizes
   * come from the returned items, so a projection or a filter makes them a lower bound.
   */
  const read = async (
    command: string,
    tables: string[],
    index: string | undefined,
    admission: Charge[],
    forward: () => ReturnType<Handler>,
    bill: (output: Record<string, unknown>) => Charge[],
    cancelOnRefusal = false,
  ) => {
    const refused = refusals(admission);
    if (refused.length > 0) {
      const throttled = new Set(refused.flatMap(({ charges }) => [...charges]));
      const error = cancelOnRefusal
        ? transactionCanceled(admission.map((charge) => (throttled.has(charge) ? throttledReason : { Code: 'None' })))
        : throttleError(refused[0]!.refusal);
      finish({
        command,
        tables,
        index,
        charges: [],
        outcome: 'throttled',
        error,
        throttles: refused.map(({ refusal }) => refusal),
      });
      throw error;
    }
    let result: Awaited<ReturnType<Handler>>;
    try {
      result = await forward();
    } catch (error: unknown) {
      finish({ command, tables, index, charges: [], outcome: 'error', error });
      throw error;
    }
    const charges = bill(result.output);
    take(charges);
    finish({ command, tables, index, charges, outcome: 'ok' });
    return result;
  };

  const getItem = (input: Record<string, unknown>, forward: () => ReturnType<Handler>, mapped: boolean) => {
    const table = shapes.get(input.TableName as string);
    if (!table) return forward();
    const partitionKey = partitionOf(table, input.Key as Item);
    const consistency = input.ConsistentRead ? 'strong' : 'eventual';
    return read(
      'GetItem',
      [table.name],
      undefined,
      [{ table: table.name, partitionKey, kind: 'read', units: 0, onCredit: true }],
      forward,
      (output) => {
        const item = outputItem(output.Item, mapped);
        return [
          { table: table.name, partitionKey, kind: 'read', units: readUnits(item ? itemSize(item) : 0, consistency) },
        ];
      },
    );
  };

  const queryOrScan = (
    command: 'Query' | 'Scan',
    input: Record<string, unknown>,
    forward: () => ReturnType<Handler>,
    mapped: boolean,
  ) => {
    const table = shapes.get(input.TableName as string);
    if (!table) return forward();
    const index = input.IndexName as string | undefined;
    const indexShape = table.indexes.find((candidate) => candidate.name === index);
    // [units] GSIs support eventually consistent reads only.
    const consistency = input.ConsistentRead && !indexShape ? 'strong' : 'eventual';
    // A Scan spreads over every partition: only the table's quota sees it.
    const partitionKey =
      command === 'Query' ? queriedPartition(input, indexShape?.partitionKey ?? table.partitionKey) : undefined;
    const charge = { table: table.name, index, partitionKey, kind: 'read' as const };
    return read(command, [table.name], index, [{ ...charge, units: 0, onCredit: true }], forward, (output) => {
      const items = ((output.Items ?? []) as unknown[]).map((item) => outputItem(item, mapped)!);
      return [{ ...charge, units: queryReadUnits(items.map(itemSize), consistency) }];
    });
  };

  const transactGet = (input: Record<string, unknown>, forward: () => ReturnType<Handler>, mapped: boolean) => {
    const command = 'TransactGetItems';
    const gets = (input.TransactItems as { Get: { TableName: string; Key: Item } }[]).map(({ Get }) => ({
      table: shapes.get(Get.TableName),
      key: Get.Key,
    }));
    if (gets.some(({ table }) => !table)) return forward();
    const tables = [...new Set(gets.map(({ table }) => table!.name))];
    // [tx] "An item within a TransactGetItems request is part of an ongoing TransactWriteItems ... request."
    const ids = gets.map(({ table, key }) => itemId(table!, key));
    if (ids.some((id) => held.has(id))) {
      const error = transactionCanceled(ids.map((id) => (held.has(id) ? conflictReason : { Code: 'None' })));
      finish({ command, tables, charges: [], outcome: 'conflict', error });
      throw error;
    }
    const charges = gets.map(
      ({ table, key }): Charge => ({
        table: table!.name,
        partitionKey: partitionOf(table!, key),
        kind: 'read',
        units: 0,
        onCredit: true,
      }),
    );
    return read(
      command,
      tables,
      undefined,
      charges,
      forward,
      (output) => {
        const responses = (output.Responses ?? []) as { Item?: unknown }[];
        return charges.map((charge, position) => {
          const item = outputItem(responses[position]?.Item, mapped);
          return { ...charge, onCredit: false, units: readUnits(item ? itemSize(item) : 0, 'transactional') };
        });
      },
      true,
    );
  };

  /** [batch] Keys whose partition is in debt come back in UnprocessedKeys; all of them refused fails the call. */
  const batchGet = async (input: Record<string, unknown>, handler: Handler, args: HandlerArgs, mapped: boolean) => {
    const command = 'BatchGetItem';
    const requestItems = input.RequestItems as Record<
      string,
      { Keys: Item[]; ConsistentRead?: boolean } & Record<string, unknown>
    >;
    const tables = Object.keys(requestItems);
    const entries = Object.entries(requestItems).flatMap(([tableName, tableRequest]) =>
      tableRequest.Keys.map((key, position) => {
        const table = shapes.get(tableName);
        const charge: Charge | undefined = table
          ? { table: tableName, partitionKey: partitionOf(table, key), kind: 'read', units: 0, onCredit: true }
          : undefined;
        return { tableName, table, key, position, charge };
      }),
    );
    const throttles: Refusal[] = [];
    const unprocessed = entries.filter((entry) => {
      const refused = entry.charge ? refusals([entry.charge])[0] : undefined;
      if (refused) throttles.push(refused.refusal);
      return refused !== undefined;
    });
    if (unprocessed.length > 0 && unprocessed.length === entries.length) {
      const error = throttleError(throttles[0]!);
      finish({ command, tables, charges: [], outcome: 'throttled', error, throttles });
      throw error;
    }
    const request =
      unprocessed.length === 0
        ? args.request
        : withBody(args.request, (body) => {
            for (const tableName of tables) {
              const tableRequest = body.RequestItems[tableName] as { Keys: unknown[] };
              const isLeft = (position: number) =>
                unprocessed.some((entry) => entry.tableName === tableName && entry.position === position);
              const kept = tableRequest.Keys.filter((_, position) => !isLeft(position));
              if (kept.length > 0) tableRequest.Keys = kept;
              else delete body.RequestItems[tableName];
            }
          });
    let result: Awaited<ReturnType<Handler>>;
    try {
      result = await handler({ ...args, request });
    } catch (error: unknown) {
      finish({ command, tables, charges: [], outcome: 'error', error, throttles });
      throw error;
    }
    const output = result.output as {
      Responses?: Record<string, unknown[]>;
      UnprocessedKeys?: Record<string, { Keys: unknown[] }>;
    };
    const sizes = new Map<string, number>();
    for (const [tableName, items] of Object.entries(output.Responses ?? {})) {
      const table = shapes.get(tableName);
      if (!table) continue;
      for (const raw of items) {
        const item = outputItem(raw, mapped)!;
        sizes.set(itemId(table, item), itemSize(item));
      }
    }
    // Keys DynamoDB Local itself left unprocessed were not read either.
    const sentBack = new Set(
      Object.entries(output.UnprocessedKeys ?? {}).flatMap(([tableName, { Keys }]) => {
        const table = shapes.get(tableName);
        return table ? Keys.map((key) => itemId(table, outputItem(key, mapped)!)) : [];
      }),
    );
    const left = new Set(unprocessed);
    const charges = entries
      .filter((entry) => entry.charge && !left.has(entry) && !sentBack.has(itemId(entry.table!, entry.key)))
      .map((entry) => ({
        ...entry.charge!,
        onCredit: false,
        units: readUnits(
          sizes.get(itemId(entry.table!, entry.key)) ?? 0,
          requestItems[entry.tableName]!.ConsistentRead ? 'strong' : 'eventual',
        ),
      }));
    take(charges);
    if (unprocessed.length > 0) {
      const pending = (output.UnprocessedKeys ??= {});
      for (const { tableName, key } of unprocessed) {
        // The table's other request fields (projection, consistency) go back with the keys, as AWS returns them.
        const { Keys: _sent, ...tableRequest } = requestItems[tableName]!;
        (pending[tableName] ??= { ...tableRequest, Keys: [] }).Keys.push(mapped ? unmarshall(key) : key);
      }
    }
    finish({ command, tables, charges, outcome: 'ok', throttles, unprocessed: unprocessed.length });
    return result;
  };

  // -- wiring ---------------------------------------------------------------------------

  const model: AwsLimitsModel = {
    enabled: true,
    scale,
    stats: () => ({
      ...stats,
      outcomes: { ...stats.outcomes },
      byTable: structuredClone(stats.byTable),
      byCommand: structuredClone(stats.byCommand),
      throttles: { ...stats.throttles },
      conflicts: { ...stats.conflicts },
    }),
    requests,
    reset: () => {
      buckets = new Map();
      stats = freshStats();
      requests.length = 0;
    },
  };

  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!model.enabled) return next(args);
      const handler = next as unknown as Handler;
      const call = args as unknown as HandlerArgs;
      const forward = () => handler(call);
      // lib-dynamodb marshals in the serialize step (above this one): the input here is always AttributeValues.
      const input = call.input;
      const mapped =
        (context as { __aws_sdk_context?: { features?: Record<string, string> } }).__aws_sdk_context?.features
          ?.DDB_MAPPER !== undefined;
      const run = (): ReturnType<Handler> => {
        switch (context.commandName) {
          case 'PutItemCommand':
            return singleWrite('PutItem', 'Put', input, forward);
          case 'UpdateItemCommand':
            return singleWrite('UpdateItem', 'Update', input, forward);
          case 'DeleteItemCommand':
            return singleWrite('DeleteItem', 'Delete', input, forward);
          case 'TransactWriteItemsCommand':
            return transactWrite(input, forward);
          case 'BatchWriteItemCommand':
            return batchWrite(input, handler, call, mapped);
          case 'GetItemCommand':
            return getItem(input, forward, mapped);
          case 'QueryCommand':
            return queryOrScan('Query', input, forward, mapped);
          case 'ScanCommand':
            return queryOrScan('Scan', input, forward, mapped);
          case 'TransactGetItemsCommand':
            return transactGet(input, forward, mapped);
          case 'BatchGetItemCommand':
            return batchGet(input, handler, call, mapped);
          default:
            return forward();
        }
      };
      return (await run()) as unknown as Awaited<ReturnType<typeof next>>;
    },
    // Inside the SDK's retry step (like test/support/faults.ts): every attempt is admitted
    // anew, and the SDK retries the throttles raised here as it retries AWS's.
    { step: 'deserialize', priority: 'high', name: 'awsLimits' },
  );
  return model;
};

/**
 * The ledger of the AWS limits model: the token buckets every charge draws on (a partition's,
 * then its table's or index's quota), the items held by in-flight transactions, and the
 * statistics and trace of finished requests. One per `applyAwsLimits` client; the command
 * handlers (writes.ts, reads.ts) admit, take and finish through it.
 */
import { errorName, type Refusal } from './errors.js';
import {
  scopeOf,
  type LimitsStats,
  type Outcome,
  type PartitionUnits,
  type TraceEntry,
  type UnitTotals,
} from './stats.js';
import {
  PARTITION_READ_UNITS_PER_SECOND,
  PARTITION_WRITE_UNITS_PER_SECOND,
  physicalPartitionOf,
  TABLE_READ_UNITS_PER_SECOND,
  TABLE_WRITE_UNITS_PER_SECOND,
  TokenBucket,
  type Placement,
} from './throughput.js';

export interface Charge {
  table: string;
  index?: string;
  /** Absent for a charge only the table's quota sees (Scan). */
  partitionKey?: string;
  kind: 'read' | 'write';
  units: number;
  /** Units known only after the answer: admitted while the buckets are not in debt. */
  onCredit?: boolean;
}

/** A request as it ended, for the statistics and the trace. */
export interface Finished {
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

export interface LedgerOptions extends Placement {
  /** Divides every rate. */
  scale: number;
  /** Milliseconds; the buckets' and the trace's clock. */
  now: () => number;
  /** Keep every request's trace entry in `requests`. */
  keepRequests?: boolean;
}

export interface Ledger {
  /** Items held by in-flight transactions (a count: a retried transaction may overlap its earlier attempt). */
  readonly held: Map<string, number>;
  refusals(charges: readonly Charge[]): { refusal: Refusal; charges: Set<Charge> }[];
  take(charges: readonly Charge[], sign?: number): void;
  settle(admitted: readonly Charge[], final: readonly Charge[]): void;
  finish(entry: Finished): void;
  /** A copy of the statistics (the partitions map is a live view). */
  stats(): LimitsStats;
  readonly requests: TraceEntry[];
  /** Empties the buckets, the statistics and the trace; held items stay held. */
  reset(): void;
}

export const createLedger = (options: LedgerOptions): Ledger => {
  const { scale, now } = options;
  const rate = {
    partition: { read: PARTITION_READ_UNITS_PER_SECOND / scale, write: PARTITION_WRITE_UNITS_PER_SECOND / scale },
    quota: {
      read: (options.tableUnits?.read ?? TABLE_READ_UNITS_PER_SECOND) / scale,
      write: (options.tableUnits?.write ?? TABLE_WRITE_UNITS_PER_SECOND) / scale,
    },
  };

  let buckets = new Map<string, TokenBucket>();
  let takesSincePrune = 0;
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

  return {
    held,
    refusals,
    take,
    settle,
    finish,
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
};

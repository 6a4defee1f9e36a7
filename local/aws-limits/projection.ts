/**
 * `projectAwsTime`: from the statistics of a run, the least time AWS's unscaled limits would
 * need for the same requests, and the arithmetic that sets it. Part of the AWS limits model
 * (local/aws-limits.ts).
 */
import type { LimitsStats, UnitTotals } from './stats.js';
import {
  PARTITION_READ_UNITS_PER_SECOND,
  PARTITION_WRITE_UNITS_PER_SECOND,
  physicalPartitionOf,
  TABLE_READ_UNITS_PER_SECOND,
  TABLE_WRITE_UNITS_PER_SECOND,
  type Placement,
} from './throughput.js';

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

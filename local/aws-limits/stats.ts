/**
 * The model's statistics and trace: what each request cost, per table, index and partition
 * key value, and how it ended. Types only, and the scope name both the ledger and the
 * projection use. Part of the AWS limits model (local/aws-limits.ts).
 */

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

/** `table`, or `table/index` for an index's partitions. */
export const scopeOf = (table: string, index?: string) => (index ? `${table}/${index}` : table);

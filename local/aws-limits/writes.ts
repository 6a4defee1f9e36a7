/**
 * The AWS limits model's writes: PutItem, UpdateItem and DeleteItem, TransactWriteItems and
 * BatchWriteItem — each billed in write units (its item and its index writes), admitted or
 * refused by the ledger's buckets, and conflicting with the items transactions hold.
 * Part of the AWS limits model (local/aws-limits.ts, where the [tags] are cited).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { batchRequest, itemId, partitionOf, type CommandContext, type Handler, type HandlerArgs } from './commands.js';
import {
  conditionFailed,
  conflictReason,
  errorName,
  throttledReason,
  throttleError,
  transactionCanceled,
  transactionConflict,
  type Refusal,
} from './errors.js';
import type { Charge } from './ledger.js';
import { indexWrites, inIndex, keyText, pick, type IndexWrite, type TableShape } from './tables.js';
import { attributeValueSize, itemSize, sum, writeUnits, type Item } from './units.js';

/** The write commands' handlers, on one client's ledger and tables. */
export const writeCommands = ({ ledger, shapes, raw }: CommandContext) => {
  const { held, refusals, take, settle, finish } = ledger;

  const readItem = async (table: TableShape, key: Item): Promise<Item | undefined> => {
    const result = await raw!.send(
      new GetItemCommand({
        TableName: table.name,
        Key: pick(key, [table.partitionKey, table.sortKey]),
        ConsistentRead: true,
      }),
    );
    return result.Item;
  };
  /** Index accounting needs the item before (and after) a write: only tables with GSIs, only with `raw`. */
  const tracksIndexes = (table: TableShape) => raw !== undefined && table.indexes.length > 0;
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
      const error = transactionConflict();
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
    const request = batchRequest(
      ledger,
      { command, tables, size: entries.length, unprocessed, throttles },
      args.request,
      {
        get: (tableRequest) => tableRequest as unknown[],
        set: (_, kept) => kept,
      },
    );
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

  return { singleWrite, transactWrite, batchWrite };
};

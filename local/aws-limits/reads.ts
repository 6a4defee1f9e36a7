/**
 * The AWS limits model's reads: GetItem, Query and Scan, TransactGetItems and BatchGetItem —
 * billed by the size of what they return (known only after: admitted while their buckets
 * are not in debt), and TransactGetItems conflicting with the items transactions hold.
 * Part of the AWS limits model (local/aws-limits.ts, where the [tags] are cited).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { batchRequest, itemId, partitionOf, type CommandContext, type Handler, type HandlerArgs } from './commands.js';
import { conflictReason, throttledReason, throttleError, transactionCanceled, type Refusal } from './errors.js';
import type { Charge } from './ledger.js';
import { keyText } from './tables.js';
import { itemSize, queryReadUnits, readUnits, type Item } from './units.js';

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

/** Output items come unmarshalled when the command came through lib-dynamodb (its unmarshalling sits below this step). */
const outputItem = (value: unknown, mapped: boolean): Item | undefined =>
  value === undefined || value === null
    ? undefined
    : mapped
      ? marshall(value as Record<string, unknown>, { convertClassInstanceToMap: true })
      : (value as Item);

/** The read commands' handlers, on one client's ledger and tables. */
export const readCommands = ({ ledger, shapes }: CommandContext) => {
  const { held, refusals, take, finish } = ledger;

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
    const request = batchRequest(
      ledger,
      { command, tables, size: entries.length, unprocessed, throttles },
      args.request,
      {
        get: (tableRequest) => (tableRequest as { Keys: unknown[] }).Keys,
        set: (tableRequest, kept) => ({ ...(tableRequest as object), Keys: kept }),
      },
    );
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

  return { getItem, queryOrScan, transactGet, batchGet };
};

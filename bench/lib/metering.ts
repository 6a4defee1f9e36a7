/**
 * Counts DynamoDB requests and consumed capacity per command on one client, by asking
 * every call for ReturnConsumedCapacity=TOTAL (SDK middleware; the code under test is
 * unchanged).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface CommandMeter {
  requests: number;
  readUnits: number;
  writeUnits: number;
  /** Requests whose answer carried no ConsumedCapacity. */
  unreported: number;
}

export type Meter = Record<string, CommandMeter>;

const CAPACITY_COMMANDS = new Set([
  'GetItemCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchGetItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
  'TransactGetItemsCommand',
  'QueryCommand',
  'ScanCommand',
]);

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

export const meterDynamoDb = (client: DynamoDBClient): { meter: Meter; snapshot(): Meter } => {
  const meter: Meter = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      const input = (args as { input: Record<string, unknown> }).input;
      if (CAPACITY_COMMANDS.has(command)) input.ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const entry = (meter[command] ??= { requests: 0, readUnits: 0, writeUnits: 0, unreported: 0 });
      entry.requests += 1;
      const consumed = (result.output as { ConsumedCapacity?: Capacity | Capacity[] }).ConsumedCapacity;
      const list = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
      if (list.length === 0) entry.unreported += 1;
      for (const capacity of list) {
        const read = capacity.ReadCapacityUnits ?? 0;
        const write = capacity.WriteCapacityUnits ?? 0;
        // Some answers give only the total; attribute it by the kind of call.
        const total = capacity.CapacityUnits ?? 0;
        if (read === 0 && write === 0 && total > 0) {
          if (/Get|Query|Scan/.test(command)) entry.readUnits += total;
          else entry.writeUnits += total;
        } else {
          entry.readUnits += read;
          entry.writeUnits += write;
        }
      }
      return result;
    },
    { step: 'initialize', name: 'meterDynamoDb' },
  );
  return { meter, snapshot: () => structuredClone(meter) };
};

export const subtract = (after: Meter, before: Meter): Meter =>
  Object.fromEntries(
    Object.entries(after).map(([command, entry]) => {
      const base = before[command] ?? { requests: 0, readUnits: 0, writeUnits: 0, unreported: 0 };
      return [
        command,
        {
          requests: entry.requests - base.requests,
          readUnits: entry.readUnits - base.readUnits,
          writeUnits: entry.writeUnits - base.writeUnits,
          unreported: entry.unreported - base.unreported,
        },
      ];
    }),
  );

/**
 * Counts DynamoDB requests and consumed capacity per command on one client, by asking
 * every call for ReturnConsumedCapacity=TOTAL (SDK middleware; the code under test is
 * unchanged).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface CommandMeter {
  requests: number;
  /** Units as DynamoDB (Local) reported them in ConsumedCapacity. */
  readUnits: number;
  writeUnits: number;
  /** Requests whose answer carried no ConsumedCapacity. */
  unreported: number;
  /** Units as AWS bills them, computed from each request (every item of ours is under 1 KB). */
  billedReadUnits: number;
  billedWriteUnits: number;
}

/**
 * AWS on-demand billing for items under 1 KB (4 KB for reads): a write is 1 WRU, a
 * transactional write 2 WRU per item; a read 0.5 RRU eventually consistent, 1 RRU
 * strongly consistent, 2 RRU transactional.
 */
export const billedUnits = (command: string, input: Record<string, unknown>): { read: number; write: number } => {
  const consistency = (consistent: unknown) => (consistent === true ? 1 : 0.5);
  switch (command) {
    case 'PutItemCommand':
    case 'UpdateItemCommand':
    case 'DeleteItemCommand':
      return { read: 0, write: 1 };
    case 'BatchWriteItemCommand':
      return {
        read: 0,
        write: Object.values(input.RequestItems as Record<string, unknown[]>).reduce(
          (sum, requests) => sum + requests.length,
          0,
        ),
      };
    case 'TransactWriteItemsCommand':
      return { read: 0, write: 2 * (input.TransactItems as unknown[]).length };
    case 'GetItemCommand':
      return { read: consistency(input.ConsistentRead), write: 0 };
    case 'BatchGetItemCommand':
      return {
        read: Object.values(input.RequestItems as Record<string, { Keys: unknown[]; ConsistentRead?: boolean }>).reduce(
          (sum, request) => sum + request.Keys.length * consistency(request.ConsistentRead),
          0,
        ),
        write: 0,
      };
    default:
      return { read: 0, write: 0 };
  }
};

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
      const billed = billedUnits(command, input);
      const result = await next(args);
      const entry = (meter[command] ??= {
        requests: 0,
        readUnits: 0,
        writeUnits: 0,
        unreported: 0,
        billedReadUnits: 0,
        billedWriteUnits: 0,
      });
      entry.requests += 1;
      entry.billedReadUnits += billed.read;
      entry.billedWriteUnits += billed.write;
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
      const base = before[command] ?? {
        requests: 0,
        readUnits: 0,
        writeUnits: 0,
        unreported: 0,
        billedReadUnits: 0,
        billedWriteUnits: 0,
      };
      const difference = Object.fromEntries(
        Object.entries(entry).map(([field, value]) => [field, value - base[field as keyof CommandMeter]]),
      ) as unknown as CommandMeter;
      return [command, difference];
    }),
  );

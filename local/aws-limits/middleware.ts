/**
 * `applyAwsLimits`: the AWS limits model as SDK middleware on a DynamoDBClient. It builds the
 * client's ledger and command handlers and sends each DynamoDB command to its handler (writes.ts,
 * reads.ts); other commands, and every command while the model is disabled, pass untouched.
 * Part of the AWS limits model (local/aws-limits.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Handler, HandlerArgs } from './commands.js';
import { createLedger } from './ledger.js';
import { readCommands } from './reads.js';
import type { LimitsStats, TraceEntry } from './stats.js';
import type { TableShape } from './tables.js';
import type { Placement } from './throughput.js';
import { writeCommands } from './writes.js';

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

export const applyAwsLimits = (client: DynamoDBClient, options: AwsLimitsOptions): AwsLimitsModel => {
  const scale = options.scale ?? 1;
  const ledger = createLedger({ ...options, scale, now: options.now ?? Date.now });
  const commands = { ledger, shapes: new Map(options.tables.map((table) => [table.name, table])), raw: options.raw };
  const { singleWrite, transactWrite, batchWrite } = writeCommands(commands);
  const { getItem, queryOrScan, transactGet, batchGet } = readCommands(commands);

  const model: AwsLimitsModel = {
    enabled: true,
    scale,
    stats: ledger.stats,
    requests: ledger.requests,
    reset: ledger.reset,
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

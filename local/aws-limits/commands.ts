/**
 * What the AWS limits model's command handlers (writes.ts, reads.ts) share: the SDK step's
 * view of a call, the context they run in (the ledger, the table shapes), item and partition
 * ids, and the rewriting of a batch's signed request without its refused entries.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { throttleError, type Refusal } from './errors.js';
import type { Ledger } from './ledger.js';
import { canonical, keyText, pick, type TableShape } from './tables.js';
import type { Item } from './units.js';

/** The deserialize step's view of a call: the marshalled input and the serialized, signed HTTP request. */
export interface HandlerArgs {
  input: Record<string, unknown>;
  request?: unknown;
}
export type Handler = (args: HandlerArgs) => Promise<{ output: Record<string, unknown>; response: unknown }>;

/** Held items' ids: the table and its key's values. */
export const itemId = (table: TableShape, key: Item) =>
  `${table.name}\u0000${canonical(pick(key, [table.partitionKey, table.sortKey]))}`;

/** The partition key value of an item (or key) as text. */
export const partitionOf = (table: TableShape, item: Item) => keyText(item[table.partitionKey])!;

/** What a command handler works with; one per `applyAwsLimits` client. */
export interface CommandContext {
  ledger: Ledger;
  /** The modelled tables by name; a request naming another table passes uncounted. */
  shapes: ReadonlyMap<string, TableShape>;
  /** The same endpoint without the model, to read items for index accounting. */
  raw?: DynamoDBClient;
}

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

/**
 * [batch] The request a batch goes on with, its refused entries left out (by table and
 * position in its list): when none is left ("cannot process any items due to throttling")
 * the call fails with the first entry's exception, finished as throttled; otherwise the
 * signed request without them, a table left with none dropped. `list` finds a table's
 * entries in the body (BatchWriteItem: the table's array; BatchGetItem: its Keys) and puts
 * the kept ones back.
 */
export const batchRequest = (
  ledger: Pick<Ledger, 'finish'>,
  batch: {
    command: string;
    tables: string[];
    size: number;
    unprocessed: readonly { tableName: string; position: number }[];
    throttles: Refusal[];
  },
  request: unknown,
  list: { get(tableRequest: unknown): unknown[]; set(tableRequest: unknown, kept: unknown[]): unknown },
) => {
  const { command, tables, size, unprocessed, throttles } = batch;
  if (unprocessed.length > 0 && unprocessed.length === size) {
    const error = throttleError(throttles[0]!);
    ledger.finish({ command, tables, charges: [], outcome: 'throttled', error, throttles });
    throw error;
  }
  return unprocessed.length === 0
    ? request
    : withBody(request, (body) => {
        for (const tableName of tables) {
          const isLeft = (position: number) =>
            unprocessed.some((entry) => entry.tableName === tableName && entry.position === position);
          const kept = list.get(body.RequestItems[tableName]).filter((_, position) => !isLeft(position));
          if (kept.length > 0) body.RequestItems[tableName] = list.set(body.RequestItems[tableName], kept);
          else delete body.RequestItems[tableName];
        }
      });
};

import {
  BatchGetCommand,
  BatchWriteCommand,
  paginateQuery,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoadError } from '../errors.js';
import { backoffDelay } from '../retry.js';

/** AWS: BatchGetItem takes at most 100 keys per call. */
export const BATCH_GET_LIMIT = 100;
/** AWS: BatchWriteItem takes at most 25 requests per call. */
export const BATCH_WRITE_LIMIT = 25;
/** AWS: TransactWriteItems takes at most 100 actions per call. */
export const TRANSACT_WRITE_LIMIT = 100;

export const chunk = <T>(items: readonly T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
};

/** In lib/concurrency.ts, where the segment size job (domain code, which imports no adapter) finds it too. */
export { mapLimit } from '../concurrency.js';

/**
 * Full jitter: a random wait up to an exponentially growing cap (AWS Architecture Blog,
 * "Exponential Backoff And Jitter"). With a signal, the wait ends (rejecting) when the work is
 * given up.
 */
export const backoff = (attempt: number, baseMs = 20, capMs = 2_000, signal?: AbortSignal): Promise<void> =>
  sleep(backoffDelay(attempt, { base: baseMs, cap: capMs }), undefined, signal ? { signal } : undefined);

const MAX_UNPROCESSED_ROUNDS = 10;

/**
 * Reads any number of items by key: chunks of 100 in parallel, with `UnprocessedKeys`
 * (throttling, 16 MB responses) retried with backoff until none are left. A `signal` cancels
 * the calls in flight and the retries (the work was given up: see functions/sync/app.ts).
 */
export const batchGetAll = async (
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  options: { consistentRead?: boolean; attributes?: readonly string[]; signal?: AbortSignal } = {},
): Promise<Record<string, unknown>[]> => {
  const { signal } = options;
  signal?.throwIfAborted();
  const results = await Promise.all(
    chunk(keys, BATCH_GET_LIMIT).map(async (batch) => {
      const items: Record<string, unknown>[] = [];
      let pending: Record<string, unknown>[] = batch;
      for (let round = 0; pending.length > 0; round += 1) {
        if (round > 0) await backoff(round, undefined, undefined, signal);
        if (round > MAX_UNPROCESSED_ROUNDS)
          throw new LoadError(
            `BatchGetItem on ${tableName}: keys still unprocessed after ${MAX_UNPROCESSED_ROUNDS} retries`,
          );
        const response = await client.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: {
                Keys: pending,
                ConsistentRead: options.consistentRead,
                // Aliased names: some of ours (e.g. `identified`) are DynamoDB reserved words.
                ...(options.attributes
                  ? {
                      ProjectionExpression: options.attributes.map((_, index) => `#p${index}`).join(', '),
                      ExpressionAttributeNames: Object.fromEntries(
                        options.attributes.map((name, index) => [`#p${index}`, name]),
                      ),
                    }
                  : {}),
              },
            },
          }),
          { abortSignal: signal },
        );
        items.push(...(response.Responses?.[tableName] ?? []));
        pending = (response.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
      return items;
    }),
  );
  return results.flat();
};

/**
 * Every item a query returns, page after page (pages of `Limit` when given), through the
 * SDK's paginator. Pages are read as they are consumed: a reader that stops early sends
 * no further query.
 */
export async function* queryItems(
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
): AsyncGenerator<Record<string, unknown>> {
  // A copy: the paginator writes each page's ExclusiveStartKey into the input it is given.
  for await (const page of paginateQuery({ client }, { ...input })) yield* page.Items ?? [];
}

/**
 * Writes any number of put/delete requests: chunks of 25, each retried for its
 * `UnprocessedItems` (throttling) with backoff, at most MAX_UNPROCESSED_ROUNDS times, then a
 * LoadError (retryable: the caller's caller decides). Not atomic across chunks.
 */
export const batchWriteAll = async (
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly Record<string, unknown>[],
  signal?: AbortSignal,
): Promise<void> => {
  for (const batch of chunk(requests, BATCH_WRITE_LIMIT)) {
    let pending: Record<string, unknown>[] = batch;
    for (let round = 0; pending.length > 0; round += 1) {
      if (round > MAX_UNPROCESSED_ROUNDS)
        throw new LoadError(
          `BatchWriteItem on ${tableName}: items still unprocessed after ${MAX_UNPROCESSED_ROUNDS} retries`,
        );
      if (round > 0) await backoff(round, undefined, undefined, signal);
      const response = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }), {
        abortSignal: signal,
      });
      pending = (response.UnprocessedItems?.[tableName] ?? []) as Record<string, unknown>[];
    }
  }
};

/**
 * Items a searching query reads at most (DynamoDB's 1 MB page may stop it sooner): a list
 * request of 5 queries reads at most 5,000 items, e.g. 10,000 cohorts in two or three requests.
 */
export const SEARCH_READ_ITEMS = 1_000;

/**
 * One page of a partition in sort-key order (or reverse, with ScanIndexForward false), after `after`: at most `limit` items from at
 * most `queries` queries of 1 MB each (a filter may leave a page short); `next` is the sort
 * key to continue after, absent at the end.
 */
export const queryPage = async (
  client: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'> & { pk: string },
  page: {
    limit: number;
    after?: string;
    queries?: number;
    /** Keep only the items this accepts (a search): each query then reads up to SEARCH_READ_ITEMS. */
    keep?: (item: Record<string, unknown>) => boolean;
  },
): Promise<{ items: Record<string, unknown>[]; next?: string }> => {
  const { pk, ...query } = input;
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined = page.after === undefined ? undefined : { pk, sk: page.after };
  for (let queries = 0; queries < (page.queries ?? 5) && items.length < page.limit; queries += 1) {
    const { Items, LastEvaluatedKey } = await client.send(
      new QueryCommand({
        ...query,
        ...(start ? { ExclusiveStartKey: start } : {}),
        Limit: page.keep ? SEARCH_READ_ITEMS : page.limit - items.length,
      }),
    );
    const read = Items ?? [];
    for (const [position, item] of read.entries()) {
      if (page.keep && !page.keep(item)) continue;
      items.push(item);
      // Full inside a DynamoDB page: the next page starts after this item.
      if (items.length === page.limit) {
        const more = position < read.length - 1 || LastEvaluatedKey !== undefined;
        return { items, ...(more ? { next: String(item.sk) } : {}) };
      }
    }
    start = LastEvaluatedKey;
    if (!start) break;
  }
  return { items, ...(start ? { next: String(start.sk) } : {}) };
};

export const queryAll = async (
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
): Promise<Record<string, unknown>[]> => {
  const items: Record<string, unknown>[] = [];
  for await (const item of queryItems(client, input)) items.push(item);
  return items;
};

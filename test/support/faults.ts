/**
 * Fault injection at the protocol boundary: SDK middleware on a real DynamoDB client,
 * so the code under test sees exactly what DynamoDB would send it under throttling,
 * partial batch reads and transaction conflicts, or a function dying after a write.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/** A small seeded generator, so a failing run can be replayed. */
export const seededRandom = (seed: number) => {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
};

export interface FaultRates {
  /** ProvisionedThroughputExceededException before the request reaches DynamoDB. */
  throttle?: number;
  /** Share of BatchGetItem keys answered as UnprocessedKeys. */
  unprocessedKeys?: number;
  /** TransactWriteItems cancelled with TransactionConflict (nothing written). */
  transactionConflict?: number;
}

export interface FaultCounts {
  throttled: number;
  unprocessedKeys: number;
  transactionConflicts: number;
}

export type FaultKind = 'throttle' | 'unprocessedKeys' | 'transactionConflict';

export interface FaultInjection extends FaultCounts {
  /**
   * The next call that can have this fault has it, whatever the rates and the dice say: a
   * test about a fault forces it instead of hoping that chance fires it.
   */
  force(kind: FaultKind, times?: number): void;
}

type Args = { input: Record<string, unknown> };

export const injectDynamoDbFaults = (client: DynamoDBClient, rates: FaultRates, seed = 1): FaultInjection => {
  const random = seededRandom(seed);
  const forced: Record<FaultKind, number> = { throttle: 0, unprocessedKeys: 0, transactionConflict: 0 };
  const counts: FaultInjection = {
    throttled: 0,
    unprocessedKeys: 0,
    transactionConflicts: 0,
    force: (kind, times = 1) => {
      forced[kind] += times;
    },
  };
  /** A forced fault of this kind is owed (and now taken), or the dice say so. */
  const fires = (kind: FaultKind, rate: number | undefined) => {
    if (forced[kind] > 0) {
      forced[kind] -= 1;
      return true;
    }
    return random() < (rate ?? 0);
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName;
      if (fires('throttle', rates.throttle)) {
        counts.throttled += 1;
        throw new ProvisionedThroughputExceededException({
          message: 'injected: throughput exceeded',
          $metadata: { httpStatusCode: 400 },
        });
      }
      if (command === 'TransactWriteItemsCommand' && fires('transactionConflict', rates.transactionConflict)) {
        counts.transactionConflicts += 1;
        const items = ((args as unknown as Args).input.TransactItems as unknown[]).length;
        throw new TransactionCanceledException({
          message: 'injected: transaction conflict',
          $metadata: { httpStatusCode: 400 },
          CancellationReasons: Array.from({ length: items }, (_, index) => ({
            Code: index === 0 ? 'TransactionConflict' : 'None',
          })),
        });
      }
      return next(args);
    },
    // 'high' runs outside the deserializer (sees parsed output) and inside the retry step.
    { step: 'deserialize', priority: 'high', name: 'injectDynamoDbFaults' },
  );
  // Partial reads act on the HTTP request (build step: serialized, not yet signed), so
  // DynamoDB really does not read the held-back keys; the answer lists them as unprocessed.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = (args as { request?: { body?: unknown; headers: Record<string, string> } }).request;
      const raw =
        typeof request?.body === 'string'
          ? request.body
          : request?.body instanceof Uint8Array
            ? Buffer.from(request.body).toString('utf8')
            : undefined;
      if (
        context.commandName !== 'BatchGetItemCommand' ||
        (!(rates.unprocessedKeys ?? 0) && forced.unprocessedKeys === 0) ||
        !request ||
        raw === undefined
      )
        return next(args);
      const body = JSON.parse(raw) as { RequestItems: Record<string, { Keys: unknown[] }> };
      const heldBack: Record<string, { Keys: unknown[] }> = {};
      // A forced partial read holds back the last key of a read of two or more (one key is always read).
      const forceHold =
        forced.unprocessedKeys > 0 &&
        Object.values(body.RequestItems).some((tableRequest) => tableRequest.Keys.length > 1);
      if (forceHold) forced.unprocessedKeys -= 1;
      for (const [table, tableRequest] of Object.entries(body.RequestItems)) {
        const keep: unknown[] = [];
        const hold: unknown[] = [];
        for (const key of tableRequest.Keys) (random() < (rates.unprocessedKeys ?? 0) ? hold : keep).push(key);
        if (forceHold && hold.length === 0 && keep.length > 1) hold.push(keep.pop());
        if (keep.length === 0) keep.push(hold.pop());
        tableRequest.Keys = keep;
        // The answer goes up through the DocumentClient's unmarshalling, which sits below
        // this step: hand it keys in the native form it would have produced.
        if (hold.length > 0)
          heldBack[table] = {
            ...tableRequest,
            Keys: hold.map((key) => unmarshall(key as Parameters<typeof unmarshall>[0])),
          };
        counts.unprocessedKeys += hold.length;
      }
      const serialized = JSON.stringify(body);
      request.body = serialized;
      request.headers['content-length'] = String(Buffer.byteLength(serialized));
      const result = await next(args);
      const output = result.output as { UnprocessedKeys?: Record<string, { Keys: unknown[] }> };
      output.UnprocessedKeys = { ...(output.UnprocessedKeys ?? {}), ...heldBack };
      return result;
    },
    { step: 'build', name: 'injectUnprocessedKeys' },
  );
  return counts;
};

/**
 * Makes the function "die" right after its Nth successful TransactWriteItems (the write
 * is committed): every later call of that invocation fails, and the invocation throws,
 * so Lambda's semantics return the whole batch to the queue.
 */
export const dieAfterWrites = (client: DynamoDBClient, options: { afterTransactions: number; deaths: number }) => {
  const state = { dead: false, deaths: 0, transactions: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (state.dead) throw new Error('injected: the function is dead');
      const result = await next(args);
      if (context.commandName === 'TransactWriteItemsCommand' && state.deaths < options.deaths) {
        state.transactions += 1;
        if (state.transactions % options.afterTransactions === 0) {
          state.dead = true;
          state.deaths += 1;
        }
      }
      return result;
    },
    { step: 'deserialize', priority: 'high', name: 'dieAfterWrites' },
  );
  const wrap =
    <E, C, R>(handler: (event: E, context: C) => Promise<R>) =>
    async (event: E, context: C): Promise<R> => {
      state.dead = false;
      const result = await handler(event, context);
      if (state.dead) throw new Error('injected: the function died in the middle of the batch');
      return result;
    };
  return { state, wrap };
};

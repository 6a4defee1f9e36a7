/**
 * Optimistic concurrency, written once: read, decide, write under a condition on what was
 * read; a concurrent writer fails the condition, and the loser reads again after a jittered
 * backoff (lib/retry.ts), a bounded number of rounds. Exact under any concurrency (no lost
 * update), and a hot item costs waiting, not errors, until the rounds run out.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoff } from './batch.js';

export interface Rounds {
  /** Rounds at most (a lost round reads again). */
  rounds: number;
  baseMs: number;
  capMs: number;
  /** The error once every round was lost (e.g. a LoadError to retry later, a ConflictError for a 409). */
  exhausted: () => Error;
}

/** Runs `round` until it is not lost: `{ done }` ends it, `'lost'` (its condition failed) goes again. */
export const optimistically = async <T>(
  options: Rounds,
  round: (attempt: number) => Promise<{ done: T } | 'lost'>,
): Promise<T> => {
  for (let attempt = 0; attempt < options.rounds; attempt += 1) {
    if (attempt > 0) await backoff(attempt - 1, options.baseMs, options.capMs);
    const outcome = await round(attempt);
    if (outcome !== 'lost') return outcome.done;
  }
  throw options.exhausted();
};

/**
 * One item kept with a `version`: read strongly, `decide` answers (and, with `item`, the
 * item's next attributes), which is put with version + 1 under the version read (absent: the
 * item must not exist). A decision without `item` writes nothing.
 */
export const versionedPut = async <T>(
  client: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, unknown>,
  options: Rounds,
  decide: (current: Record<string, unknown> | undefined) => { answer: T; item?: Record<string, unknown> },
): Promise<T> =>
  optimistically(options, async () => {
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
    const version = Number(Item?.version ?? 0);
    const decision = decide(Item);
    if (decision.item === undefined) return { done: decision.answer };
    try {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...decision.item, ...key, version: version + 1 },
          ConditionExpression: version === 0 ? 'attribute_not_exists(pk)' : 'version = :version',
          ExpressionAttributeValues: version === 0 ? undefined : { ':version': version },
        }),
      );
      return { done: decision.answer };
    } catch (error: unknown) {
      if (error instanceof ConditionalCheckFailedException) return 'lost';
      throw error;
    }
  });

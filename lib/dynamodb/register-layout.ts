/**
 * How many register shards a cohort has (shards.ts): recorded on the cohort's item
 * (`registerShards`) when the item is created, never changed; an item without it is a
 * cohort first seen when every cohort had 32. Known counts are kept for the life of the
 * process (a cohort's count never changes, and cohorts are never deleted), so each store
 * learns it once per cohort: from the write that creates the item, or one strongly
 * consistent read.
 *
 * Rolling out 64 shards over a deployment that had 32: deploy once with
 * REGISTER_SHARDS_FOR_NEW_COHORTS=32 (every instance then reads the recorded count), then
 * without it; otherwise an invocation of the old code still running during the update could
 * write a new cohort's registers under 32 shards (docs/architecture.md, "Keys for big cohorts").
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CohortRef } from '../cohorts/messages.js';
import { LEGACY_REGISTER_SHARDS, REGISTER_SHARDS, SHARD_COUNTS } from './shards.js';
import { cohortListKey, cohortSortKey } from './cohort-keys.js';

/** Counts learnt, per table and cohort: shared by every store of the process. */
const known = new Map<string, number>();
const knownKey = (table: string, cohort: CohortRef) =>
  `${table}\u0000${cohort.workspaceId}\u0000${cohort.partner}\u0000${cohort.cohortId}`;

/** The shard count a cohort's item records (absent: a cohort first seen with 32). */
export const shardsOfItem = (item: Record<string, unknown> | undefined): number => {
  const recorded = Number(item?.registerShards ?? LEGACY_REGISTER_SHARDS);
  return (SHARD_COUNTS as readonly number[]).includes(recorded) ? recorded : LEGACY_REGISTER_SHARDS;
};

/** REGISTER_SHARDS_FOR_NEW_COHORTS: 32 during the first deployment of this version over one with 32; default 64. */
export const readNewCohortShards = (env: NodeJS.ProcessEnv = process.env): number => {
  const raw = env.REGISTER_SHARDS_FOR_NEW_COHORTS;
  if (raw === undefined || raw === '') return REGISTER_SHARDS;
  const value = Number(raw);
  if (!(SHARD_COUNTS as readonly number[]).includes(value))
    throw new Error(`REGISTER_SHARDS_FOR_NEW_COHORTS must be ${SHARD_COUNTS.join(' or ')}, got ${raw}`);
  return value;
};

export class RegisterLayouts {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** What a cohort created by this process gets. */
    private readonly newCohortShards: number = readNewCohortShards(),
  ) {}

  /** Learns a count from a cohort item read for another reason (a list). */
  remember(cohort: CohortRef, item: Record<string, unknown>): number {
    const shards = shardsOfItem(item);
    known.set(knownKey(this.tableName, cohort), shards);
    return shards;
  }

  /**
   * The cohort's count, creating its item (named by its id, first seen now) with this
   * process's count for new cohorts if it does not exist: what a writer calls before it
   * writes a register or names the cohort.
   */
  async claim(cohort: CohortRef, now: Date, signal?: AbortSignal): Promise<number> {
    const key = knownKey(this.tableName, cohort);
    const cached = known.get(key);
    if (cached !== undefined) return cached;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: cohortListKey(cohort.workspaceId),
            sk: cohortSortKey(cohort),
            partner: cohort.partner,
            cohortId: cohort.cohortId,
            name: cohort.cohortId,
            firstSeenAt: now.toISOString(),
            registerShards: this.newCohortShards,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      );
      known.set(key, this.newCohortShards);
      return this.newCohortShards;
    } catch (error: unknown) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const shards = shardsOfItem(error.Item ? unmarshall(error.Item) : undefined);
      known.set(key, shards);
      return shards;
    }
  }

  /** The cohort's count for reading: its item's (one read, then kept); a cohort not seen yet has no registers at all. */
  async shardsOf(cohort: CohortRef): Promise<number> {
    const key = knownKey(this.tableName, cohort);
    const cached = known.get(key);
    if (cached !== undefined) return cached;
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) },
        ProjectionExpression: 'pk, registerShards',
        ConsistentRead: true,
      }),
    );
    if (!Item) return this.newCohortShards;
    const shards = shardsOfItem(Item);
    known.set(key, shards);
    return shards;
  }
}

/**
 * Cohorts table (hash `pk`, range `sk`), laid out so that one cohort of millions spreads
 * its writes over many partitions (docs/architecture.md, "Keys for big cohorts"):
 *   pk <ws>#COHORTS,                      sk <partner>#<cohortId>   cohort: name, createdAt, firstSeenAt, lastSyncedAt,
 *                                                                   nameOrderKey, nameAcceptedAt, createdOrderKey,
 *                                                                   registerShards (absent: 32),
 *                                                                   memberCount + countReadAt (the lanes' sum as a
 *                                                                   writer last read it: what lists show)
 *   pk <ws>#M<shard>#<partner>#<cohortId>, sk M#<brazeId>            membership register: member, orderKey, effect
 *   pk <ws>#C#<partner>#<cohortId>,        sk N#<lane>               a share of the member count (the count is the sum)
 *   pk <ws>#C#<partner>#<cohortId>,        sk R#<acceptedAt>#<requestId>  sync report (expires after 90 days)
 * No secondary index: a cohort's members are its 64 (or 32) register partitions read in shard
 * order (shards are contiguous ranges of braze_id, so the concatenation is sorted), and
 * a user's cohorts are one strongly consistent read of the user's register in each of
 * the workspace's cohorts.
 *
 * Membership writes and a count-lane update go in one transaction, conditioned on the
 * register's previous order key: the count moves exactly when a membership flips,
 * whatever crashes, duplicates or concurrent writers happen around it. Transactions of
 * one request run in parallel on distinct lanes, so they do not cancel each other.
 */
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { backoff, batchGetAll, chunk, mapLimit, queryAll, queryPage, TRANSACT_WRITE_LIMIT } from './batch.js';
import {
  decideMembership,
  memberCountDelta,
  type MembershipDecision,
  type MembershipState,
} from '../cohorts/ordering.js';
import type { CohortRef } from '../cohorts/messages.js';
import type { DesiredMembership } from '../cohorts/matching.js';
import type { ApplyOutcome, Cancellable, Cohort, CohortNaming, MembershipStore, SyncReport } from '../cohorts/ports.js';
import { registerShardOf } from './shards.js';
import {
  cohortKey,
  cohortListKey,
  cohortSortKey,
  laneSortKey,
  memberSortKey,
  registerItemKey,
  registerKey,
} from './cohort-keys.js';
import { RegisterLayouts } from './register-layout.js';
import { AdaptiveLimit, type AdaptiveLimitStats } from '../concurrency.js';
import { isThrottle, isTransientServerError, ValidationError } from '../errors.js';
import { searchMatcher } from '../paging.js';

export type { ApplyOutcome, Cohort, MembershipStore, SyncReport } from '../cohorts/ports.js';

export {
  cohortKey,
  cohortListKey,
  cohortSortKey,
  laneSortKey,
  memberSortKey,
  registerItemKey,
  registerKey,
} from './cohort-keys.js';
const reportSortKey = (stamp: { acceptedAt: string; requestId: string }) => `R#${stamp.acceptedAt}#${stamp.requestId}`;

/** Sync reports are history for operators; DynamoDB's TTL deletes them after 90 days. */
const REPORT_TTL_SECONDS = 90 * 24 * 3600;
/** One transaction action is a count-lane update; the rest are memberships. */
const MEMBERSHIPS_PER_TRANSACTION = TRANSACT_WRITE_LIMIT - 1;
/**
 * The count is split over lanes so that concurrent transactions on one cohort (a
 * request's own, and other invocations') rarely touch the same count item: AWS cancels a
 * transaction that touches an item another in-flight transaction holds. All lanes share
 * one partition key: 2 WCU per 99 changes, so one cohort at 16,000 changes/s puts ~320
 * WCU/s on it, under the 1,000 WCU/s a partition serves.
 */
export const COUNT_LANES = 32;
/** Transactions of one request in flight at once (each on its own lane). */
const TRANSACTIONS_IN_FLIGHT = 4;
/**
 * Transactions in flight across all of a process's requests (a sync invocation runs its 10
 * records at once, so at most 40), adapted to what the table absorbs: halved when DynamoDB
 * throttles, grown by one a round while it does not (lib/concurrency.ts). A brand-new table
 * or a hot shard then costs waiting, not cancelled transactions, retries and requeues.
 */
export const TRANSACTION_LOAD = { initial: 8, min: 1, max: 10 * TRANSACTIONS_IN_FLIGHT };
/**
 * Cancelled transactions (a concurrent writer, a conflict, throttling) are retried inside
 * the invocation with capped, jittered backoff; past this many the record fails and the
 * sync requeues it (functions/sync/app.ts), so load alone never dead-letters a record.
 */
const MAX_TRANSACTION_ATTEMPTS = 12;

/** Shards of a small cohort read at once (cohortMembers). */
const READ_AHEAD_SHARDS = 16;

const randomLane = () => Math.floor(Math.random() * COUNT_LANES);

/** Cancellation reasons that mean "a register moved": re-read and decide again. Anything else is load (conflict, throttling). */
const cancellationCodes = (error: TransactionCanceledException): string[] =>
  (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');

export class DynamoMembershipStore implements MembershipStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Shared by every request this store serves; one per process in a function. */
    private readonly transactions = new AdaptiveLimit(TRANSACTION_LOAD),
    /** Each cohort's register shards (32 or 64), learnt once. */
    private readonly layouts = new RegisterLayouts(client, tableName),
  ) {}

  /** How the transaction limit has adapted (for the bench and the logs). */
  transactionLoad(): AdaptiveLimitStats {
    return this.transactions.stats();
  }

  async applyMemberships(
    cohort: CohortRef,
    desired: readonly DesiredMembership[],
    now: Date,
    { signal }: Cancellable = {},
  ): Promise<ApplyOutcome> {
    signal?.throwIfAborted();
    const outcome: ApplyOutcome = { added: 0, removed: 0, alreadyInState: 0, superseded: 0 };
    const shards = await this.ensureCohort(cohort, now, signal);
    // All registers in one parallel read (100 keys per BatchGetItem). Eventually
    // consistent (half the read units): a stale register only makes its transaction's
    // condition fail, and the retry reads strongly.
    const registers = await this.readRegisters(
      cohort,
      shards,
      desired.map((membership) => membership.brazeId),
      false,
      signal,
    );
    // Chunks are disjoint sets of users and each updates its own count lane, so they run
    // in parallel without cancelling each other. In braze_id order, a chunk's registers sit
    // in a few neighbouring shards (shards are contiguous ranges of braze_id) instead of
    // nearly all 64: a throttled shard then holds back the few transactions that touch it,
    // not every one (AWS cancels a whole transaction when one of its items is throttled).
    const firstLane = randomLane();
    const ordered = [...desired].sort((a, b) => (a.brazeId < b.brazeId ? -1 : a.brazeId > b.brazeId ? 1 : 0));
    const chunks = chunk(ordered, MEMBERSHIPS_PER_TRANSACTION);
    const decided = await mapLimit(chunks, TRANSACTIONS_IN_FLIGHT, (memberships, index) =>
      this.applyChunk(cohort, shards, memberships, registers, (firstLane + index) % COUNT_LANES, now, signal),
    );
    for (const decision of decided.flat()) {
      if (decision.outcome === 'added' || decision.outcome === 'removed') outcome[decision.outcome] += 1;
      else if (decision.outcome === 'unchanged') outcome.alreadyInState += 1;
      else outcome.superseded += 1;
    }
    // Whether or not anything flipped: a retry of a request whose writes landed before a
    // crash finds nothing to flip, and is what brings the list's count up to date.
    await this.snapshotCount(cohort, signal);
    return outcome;
  }

  /**
   * Copies the member count (the lanes' sum, read strongly) onto the cohort's list item, so a
   * page of 100 cohorts is one Query, not 100 (docs/architecture.md, "Counts in lists"). Each
   * writer reads after its own transactions committed, and the read that started last wins
   * (`countReadAt`), so once writers stop the copy is the sum. Exact counts (a cohort's page,
   * segment sizes) still read the lanes; reading them also repairs a copy left behind.
   * 1 RCU + 1 WCU per applied request, not per change.
   */
  private async snapshotCount(cohort: CohortRef, signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    const readAt = new Date().toISOString();
    const count = await this.memberCount(cohort);
    await this.writeCountSnapshot(cohort, count, readAt, signal);
    return count;
  }

  private async writeCountSnapshot(cohort: CohortRef, count: number, readAt: string, signal?: AbortSignal) {
    await this.updateUnlessConditionFails(
      {
        TableName: this.tableName,
        Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) },
        UpdateExpression: 'SET memberCount = :count, countReadAt = :readAt',
        // Never a list item for a cohort that does not exist (a deleted workspace's, say).
        ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(countReadAt) OR countReadAt <= :readAt)',
        ExpressionAttributeValues: { ':count': count, ':readAt': readAt },
      },
      signal,
    );
  }

  private async applyChunk(
    cohort: CohortRef,
    shards: number,
    memberships: readonly DesiredMembership[],
    known: Map<string, MembershipState>,
    lane: number,
    now: Date,
    signal: AbortSignal | undefined,
  ): Promise<MembershipDecision[]> {
    let current = known;
    for (let attempt = 0; ; attempt += 1) {
      signal?.throwIfAborted();
      const decisions = memberships.map((membership) => decideMembership(current.get(membership.brazeId), membership));
      const writes = memberships.flatMap((membership, index) => {
        const decision = decisions[index]!;
        return decision.action === 'write'
          ? [this.registerPut(cohort, shards, membership.brazeId, decision.next, current.get(membership.brazeId), now)]
          : [];
      });
      if (writes.length === 0) return decisions;
      const delta = decisions.reduce((sum, decision) => sum + memberCountDelta(decision), 0);
      try {
        const items = delta === 0 ? writes : [...writes, this.countUpdate(cohort, lane, delta)];
        await this.transactions.run(
          () => this.client.send(new TransactWriteCommand({ TransactItems: items }), { abortSignal: signal }),
          isThrottle,
          signal,
        );
        return decisions;
      } catch (error: unknown) {
        // Cancelled, nothing was written. A register moved (ConditionalCheckFailed): read
        // again, strongly, and decide again. Only load (a conflict, throttling): nothing moved,
        // so the same transaction again after a longer backoff, on another lane in case the
        // lane is what another transaction holds (a re-read would only cost read units).
        // A server error (HTTP 500, after the SDK's retries): the transaction may or may not
        // have been applied, so read again and decide again, as for a moved register: if it
        // was applied, its registers are in their new state and nothing is written twice.
        const unknown = isTransientServerError(error);
        if (!(error instanceof TransactionCanceledException || unknown) || attempt + 1 >= MAX_TRANSACTION_ATTEMPTS)
          throw error;
        const moved =
          unknown || cancellationCodes(error as TransactionCanceledException).includes('ConditionalCheckFailed');
        await backoff(attempt, moved ? 20 : 50, moved ? 1_000 : 5_000, signal);
        if (moved)
          current = await this.readRegisters(
            cohort,
            shards,
            memberships.map((membership) => membership.brazeId),
            true,
            signal,
          );
        else lane = randomLane();
      }
    }
  }

  private async readRegisters(
    cohort: CohortRef,
    shards: number,
    brazeIds: readonly string[],
    consistentRead: boolean,
    signal?: AbortSignal,
  ): Promise<Map<string, MembershipState>> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      brazeIds.map((brazeId) => registerItemKey(cohort, brazeId, shards)),
      { consistentRead, attributes: ['brazeId', 'member', 'orderKey', 'effect'], signal },
    );
    return new Map(
      items.map((item) => [
        item.brazeId as string,
        {
          member: item.member === true,
          orderKey: item.orderKey as string,
          effect: item.effect as MembershipState['effect'],
        },
      ]),
    );
  }

  private registerPut(
    cohort: CohortRef,
    shards: number,
    brazeId: string,
    next: MembershipState,
    previous: MembershipState | undefined,
    now: Date,
  ) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...registerItemKey(cohort, brazeId, shards),
          brazeId,
          member: next.member,
          orderKey: next.orderKey,
          effect: next.effect,
          updatedAt: now.toISOString(),
        },
        // The state the decision was made from, whole: its stamp and whether it was a member. A
        // membership ended meanwhile outside the partner's order (a merge, an orphan: endRegister
        // keeps the stamp) fails this, so the decision and the count's delta are made again.
        ...(previous
          ? {
              ConditionExpression: 'orderKey = :previous AND #member = :wasMember',
              ExpressionAttributeNames: { '#member': 'member' },
              ExpressionAttributeValues: { ':previous': previous.orderKey, ':wasMember': previous.member },
            }
          : { ConditionExpression: 'attribute_not_exists(sk)' }),
      },
    };
  }

  private countUpdate(cohort: CohortRef, lane: number, delta: number) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: cohortKey(cohort), sk: laneSortKey(lane) },
        UpdateExpression: 'ADD members :delta',
        ExpressionAttributeValues: { ':delta': delta },
      },
    };
  }

  /** The member count: the sum of the cohort's count lanes (one query of ≤ 32 small items). */
  private async memberCount(cohort: CohortRef): Promise<number> {
    const lanes = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :lanes)',
      ExpressionAttributeValues: { ':pk': cohortKey(cohort), ':lanes': 'N#' },
      ProjectionExpression: 'members',
      ConsistentRead: true,
    });
    return lanes.reduce((sum, lane) => sum + Number(lane.members ?? 0), 0);
  }

  /** Exact counts: each cohort's lanes read; a list item's copy found behind them is repaired. */
  private async withCounts(workspaceId: string, items: readonly Record<string, unknown>[]): Promise<Cohort[]> {
    return mapLimit(items, 16, async (item) => {
      const ref = { workspaceId, partner: item.partner as string, cohortId: item.cohortId as string };
      const readAt = new Date().toISOString();
      const count = await this.memberCount(ref);
      await this.repairCountSnapshot(ref, item, count, readAt);
      return toCohort(item, count);
    });
  }

  /** A list item's copy of the count that differs from the lanes' sum read at `readAt` is replaced (unless a later read wrote it). */
  private async repairCountSnapshot(ref: CohortRef, item: Record<string, unknown>, count: number, readAt: string) {
    if (item.countReadAt !== undefined && Number(item.memberCount) !== count)
      await this.writeCountSnapshot(ref, count, readAt);
  }

  /**
   * Counts for a list: the copy on each list item (snapshotCount), so a page costs its one
   * Query. A cohort never synced has no lanes (0); one synced before copies were kept is read
   * from its lanes, and its copy written then.
   */
  private async withListedCounts(workspaceId: string, items: readonly Record<string, unknown>[]): Promise<Cohort[]> {
    const counted = items.map(listedCount);
    return mapLimit(items, 16, async (item, index) => {
      const known = counted[index];
      if (known !== undefined) return toCohort(item, known);
      return toCohort(
        item,
        await this.snapshotCount({ workspaceId, partner: item.partner as string, cohortId: item.cohortId as string }),
      );
    });
  }

  /**
   * Deltas for a cohort that was never named are accepted: it is listed under its id until a
   * name arrives. Answers the cohort's register shards (created with the item, then kept).
   */
  private async ensureCohort(cohort: CohortRef, now: Date, signal?: AbortSignal): Promise<number> {
    const shards = await this.layouts.claim(cohort, now, signal);
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) },
        UpdateExpression:
          'SET partner = :partner, cohortId = :cohortId, #name = if_not_exists(#name, :cohortId), firstSeenAt = if_not_exists(firstSeenAt, :now), lastSyncedAt = :now',
        ExpressionAttributeNames: { '#name': 'name' },
        ExpressionAttributeValues: {
          ':partner': cohort.partner,
          ':cohortId': cohort.cohortId,
          ':now': now.toISOString(),
        },
      }),
      { abortSignal: signal },
    );
    return shards;
  }

  /**
   * Create-or-rename, exact whatever order the requests are applied in (retries, DLQ
   * redrives): the name is the latest request's, `created_at` the first one's. Partners
   * send `created_at` with every rename (Segment sends its event time), so a rename must
   * not move it; when the name was accepted is kept apart (`renamedAt` once it is a rename).
   */
  async nameCohort(cohort: CohortRef, naming: CohortNaming, now: Date): Promise<void> {
    const key = { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) };
    // A cohort named before its first change is created here: with its register shards.
    await this.layouts.claim(cohort, now);
    await this.updateUnlessConditionFails({
      TableName: this.tableName,
      Key: key,
      UpdateExpression:
        'SET partner = :partner, cohortId = :cohortId, #name = :name, nameOrderKey = :orderKey, nameAcceptedAt = :acceptedAt, firstSeenAt = if_not_exists(firstSeenAt, :now)',
      ConditionExpression: 'attribute_not_exists(nameOrderKey) OR nameOrderKey < :orderKey',
      ExpressionAttributeNames: { '#name': 'name' },
      ExpressionAttributeValues: {
        ':partner': cohort.partner,
        ':cohortId': cohort.cohortId,
        ':name': naming.name,
        ':orderKey': naming.orderKey,
        ':acceptedAt': naming.acceptedAt,
        ':now': now.toISOString(),
      },
    });
    // A cohort named before createdOrderKey was kept has a createdAt of unknown order: it stays.
    await this.updateUnlessConditionFails({
      TableName: this.tableName,
      Key: key,
      UpdateExpression: 'SET createdAt = :createdAt, createdOrderKey = :orderKey',
      ConditionExpression:
        '(attribute_not_exists(createdOrderKey) AND attribute_not_exists(createdAt)) OR createdOrderKey > :orderKey',
      ExpressionAttributeValues: { ':createdAt': naming.createdAt, ':orderKey': naming.orderKey },
    });
  }

  /** A conditional update whose failed condition means "a newer (or older) request already wrote it": nothing to do. */
  private async updateUnlessConditionFails(
    input: ConstructorParameters<typeof UpdateCommand>[0],
    signal?: AbortSignal,
  ): Promise<void> {
    try {
      await this.client.send(new UpdateCommand(input), { abortSignal: signal });
    } catch (error: unknown) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async hasSyncReport(cohort: CohortRef, stamp: { acceptedAt: string; requestId: string }): Promise<boolean> {
    const response = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: cohortKey(cohort), sk: reportSortKey(stamp) },
        ProjectionExpression: 'sk',
        ConsistentRead: true,
      }),
    );
    return response.Item !== undefined;
  }

  async recordSyncReport(cohort: CohortRef, report: SyncReport): Promise<{ firstTime: boolean }> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: cohortKey(cohort),
            sk: reportSortKey(report),
            ...report,
            ttl: Math.floor(Date.parse(report.processedAt) / 1000) + REPORT_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(sk)',
        }),
      );
      return { firstTime: true };
    } catch (error: unknown) {
      if (error instanceof ConditionalCheckFailedException) return { firstTime: false };
      throw error;
    }
  }

  /** One page of a workspace's cohorts in `partner#cohort_id` order, with their counts (bounded reads: it may be short). */
  /**
   * One page of the workspace's cohorts in (partner, id) order, or reverse: optionally one
   * partner's (a key range), optionally those matching a search (name or id, read and kept
   * here: DynamoDB cannot compare case-insensitively). Counts are read for the page only.
   */
  async listCohorts(
    workspaceId: string,
    page: { limit: number; after?: string; search?: string; order?: 'asc' | 'desc'; partner?: string },
  ): Promise<{ cohorts: Cohort[]; next?: string }> {
    const pk = cohortListKey(workspaceId);
    // DynamoDB refuses a start key outside the key condition's range (a 500 it would be).
    if (page.partner !== undefined && page.after !== undefined && !page.after.startsWith(`${page.partner}#`))
      throw new ValidationError(`\`cursor\` does not continue the list of ${page.partner}'s cohorts`);
    const matches = searchMatcher(page.search);
    const found = await queryPage(
      this.client,
      {
        TableName: this.tableName,
        KeyConditionExpression: page.partner === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :partner)',
        ExpressionAttributeValues: {
          ':pk': pk,
          ...(page.partner === undefined ? {} : { ':partner': `${page.partner}#` }),
        },
        // A search reads up to 5,000 items to keep a few: only what it compares (the same read
        // units, a third of the bytes), then the whole items of the matches.
        ...(matches
          ? { ProjectionExpression: 'pk, sk, #name, cohortId', ExpressionAttributeNames: { '#name': 'name' } }
          : {}),
        ScanIndexForward: page.order !== 'desc',
        pk,
      },
      {
        limit: page.limit,
        ...(page.after === undefined ? {} : { after: page.after }),
        ...(matches ? { keep: (item) => matches({ name: item.name, id: item.cohortId }) } : {}),
      },
    );
    const items = matches ? await this.wholeItems(found.items) : found.items;
    return {
      cohorts: await this.withListedCounts(workspaceId, items),
      ...(found.next !== undefined ? { next: found.next } : {}),
    };
  }

  /** Whole list items for these keys, in their order (one cohort deleted meanwhile is left out). */
  private async wholeItems(keys: readonly Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    if (keys.length === 0) return [];
    const read = await batchGetAll(
      this.client,
      this.tableName,
      keys.map((item) => ({ pk: item.pk, sk: item.sk })),
    );
    const bySortKey = new Map(read.map((item) => [item.sk as string, item]));
    return keys.flatMap((item): Record<string, unknown>[] => {
      const whole = bySortKey.get(item.sk as string);
      return whole ? [whole] : [];
    });
  }

  /** Which of these partners have at least one cohort in the workspace: one item read of each key range, in parallel. */
  async partnersWithCohorts(workspaceId: string, partners: readonly string[]): Promise<string[]> {
    const found = await mapLimit(partners, 8, async (partner) => {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :partner)',
          ExpressionAttributeValues: { ':pk': cohortListKey(workspaceId), ':partner': `${partner}#` },
          ProjectionExpression: 'sk',
          Limit: 1,
        }),
      );
      return (page.Items ?? []).length > 0;
    });
    return partners.filter((_, index) => found[index]);
  }

  async getCohort(cohort: CohortRef): Promise<Cohort | undefined> {
    const readAt = new Date().toISOString();
    const [response, count] = await Promise.all([
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) },
          ConsistentRead: true,
        }),
      ),
      this.memberCount(cohort),
    ]);
    if (!response.Item) return undefined;
    await this.repairCountSnapshot(cohort, response.Item, count, readAt);
    return toCohort(response.Item, count);
  }

  async recentSyncReports(cohort: CohortRef, limit = 20): Promise<SyncReport[]> {
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :reports)',
        ExpressionAttributeValues: { ':pk': cohortKey(cohort), ':reports': 'R#' },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (response.Items ?? []).map(({ pk: _pk, sk: _sk, ttl: _ttl, ...report }) => report as SyncReport);
  }

  /**
   * A cohort's members in braze_id order, after `after`, page by page: its register
   * shards in order (each a contiguous range of braze_ids), tombstones filtered out. Shards
   * whose registers fit in one page (a small cohort: most of its 64 shards hold a handful)
   * make the reader ask the next ones together, up to READ_AHEAD_SHARDS at once, so a small
   * cohort costs a few round trips, not 64; a shard that needs more pages sets it back to one
   * at a time, so a big cohort read partly (a page of a segment) is not read ahead for nothing.
   */
  async *cohortMembers(cohort: CohortRef, after?: string, pageSize = 1_000): AsyncGenerator<string> {
    const shards = await this.layouts.shardsOf(cohort);
    const query = (shard: number, startKey?: Record<string, unknown>) =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: after === undefined ? 'pk = :pk' : 'pk = :pk AND sk > :after',
          FilterExpression: '#member = :true',
          ExpressionAttributeNames: { '#member': 'member' },
          ExpressionAttributeValues: {
            ':pk': registerKey(cohort, shard),
            ':true': true,
            ...(after === undefined ? {} : { ':after': memberSortKey(after) }),
          },
          ProjectionExpression: 'brazeId',
          Limit: pageSize,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
    let ahead = 1;
    for (let shard = after === undefined ? 0 : registerShardOf(after, shards); shard < shards; ) {
      const pending = Array.from({ length: Math.min(ahead, shards - shard) }, (_, offset) => {
        const page = query(shard + offset);
        // A reader that stops early leaves the pages it did not reach: not an unhandled rejection.
        page.catch(() => undefined);
        return page;
      });
      let onePageEach = true;
      for (const [offset, first] of pending.entries()) {
        let page = await first;
        for (const item of page.Items ?? []) yield item.brazeId as string;
        while (page.LastEvaluatedKey) {
          onePageEach = false;
          page = await query(shard + offset, page.LastEvaluatedKey);
          for (const item of page.Items ?? []) yield item.brazeId as string;
        }
      }
      shard += pending.length;
      ahead = onePageEach ? Math.min(READ_AHEAD_SHARDS, ahead * 2) : 1;
    }
  }

  /**
   * The cohorts a user is a member of: the user's register in each of the workspace's
   * cohorts, read strongly consistent (so a merge never misses a membership just written).
   * Costs one key per cohort of the workspace, not per user.
   */
  async cohortsOfUser(workspaceId: string, brazeId: string): Promise<CohortRef[]> {
    const cohorts = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': cohortListKey(workspaceId) },
      ProjectionExpression: 'partner, cohortId, registerShards',
      ConsistentRead: true,
    });
    const refs = cohorts.map((item) => {
      const ref = { workspaceId, partner: item.partner as string, cohortId: item.cohortId as string };
      return { ref, key: registerItemKey(ref, brazeId, this.layouts.remember(ref, item)) };
    });
    const registers = await batchGetAll(
      this.client,
      this.tableName,
      refs.map(({ key }) => key),
      { consistentRead: true, attributes: ['pk', 'member'] },
    );
    const memberOf = new Set(registers.filter((item) => item.member === true).map((item) => item.pk as string));
    return refs.filter(({ key }) => memberOf.has(key.pk)).map(({ ref }) => ref);
  }

  /** The names of the cohorts named (one BatchGetItem per 100, no counts read): absent when a cohort is not known. */
  /**
   * The name and listed count (listedCount: the list item's copy, as a list shows it) of each
   * cohort named, by `partner#cohortId`, in one read of their list items: what a page of
   * segments shows.
   */
  async listedCohorts(
    workspaceId: string,
    refs: readonly { partner: string; cohortId: string }[],
  ): Promise<Map<string, { name: string; memberCount: number | undefined }>> {
    const distinct = [...new Map(refs.map((ref) => [cohortSortKey({ workspaceId, ...ref }), ref])).keys()];
    const items = await batchGetAll(
      this.client,
      this.tableName,
      distinct.map((sk) => ({ pk: cohortListKey(workspaceId), sk })),
      { attributes: ['sk', 'name', 'memberCount', 'countReadAt', 'lastSyncedAt'] },
    );
    return new Map(
      items.map((item) => [item.sk as string, { name: item.name as string, memberCount: listedCount(item) }]),
    );
  }

  async getCohorts(workspaceId: string, refs: readonly CohortRef[]): Promise<Cohort[]> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      refs.map((ref) => ({ pk: cohortListKey(workspaceId), sk: cohortSortKey(ref) })),
    );
    return this.withCounts(workspaceId, items);
  }

  /**
   * A user merged away by identify leaves its cohorts: each membership ends with the
   * count moved in the same transaction (the identified user keeps its own memberships).
   */
  async dropUser(workspaceId: string, brazeId: string, now: Date): Promise<number> {
    let dropped = 0;
    for (const ref of await this.cohortsOfUser(workspaceId, brazeId))
      if (await this.endMembership(ref, brazeId, 'merge', now)) dropped += 1;
    return dropped;
  }

  /**
   * Ends one membership outside the partner's order (its stamp is kept, so a newer change
   * still wins): `merge` for a profile merged away, `orphan` for a membership written for
   * a profile that no longer exists (the events function finds those). The register says
   * which (`endedBy`), so the events function knows whether to publish the removal. Only a
   * failed condition (no longer a member) counts as done; a conflict or throttling is
   * retried, and past the retries the error fails the caller. Says whether it ended one.
   */
  async endMembership(ref: CohortRef, brazeId: string, endedBy: 'merge' | 'orphan', now: Date): Promise<boolean> {
    const ended = await this.endRegister(ref, brazeId, endedBy, now);
    // As after a sync: a retry that finds the membership already ended still brings the copy up to date.
    await this.snapshotCount(ref);
    return ended;
  }

  private async endRegister(ref: CohortRef, brazeId: string, endedBy: 'merge' | 'orphan', now: Date): Promise<boolean> {
    const shards = await this.layouts.shardsOf(ref);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: registerItemKey(ref, brazeId, shards),
                  // `member` is a DynamoDB reserved word.
                  UpdateExpression: 'SET #member = :false, effect = :removed, endedBy = :endedBy, updatedAt = :now',
                  ConditionExpression: '#member = :true',
                  ExpressionAttributeNames: { '#member': 'member' },
                  ExpressionAttributeValues: {
                    ':false': false,
                    ':true': true,
                    ':removed': 'removed',
                    ':endedBy': endedBy,
                    ':now': now.toISOString(),
                  },
                },
              },
              this.countUpdate(ref, randomLane(), -1),
            ],
          }),
        );
        return true;
      } catch (error: unknown) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        if (cancellationCodes(error)[0] === 'ConditionalCheckFailed') return false;
        if (attempt + 1 >= MAX_TRANSACTION_ATTEMPTS) throw error;
        await backoff(attempt, 50, 5_000);
      }
    }
  }
}

/** A list item's copy of the count; 0 for a cohort never synced; undefined for one synced before copies were kept. */
const listedCount = (item: Record<string, unknown>): number | undefined =>
  item.countReadAt !== undefined ? Number(item.memberCount ?? 0) : item.lastSyncedAt === undefined ? 0 : undefined;

const toCohort = (item: Record<string, unknown>, memberCount: number): Cohort => ({
  partner: item.partner as string,
  cohortId: item.cohortId as string,
  name: item.name as string,
  memberCount,
  ...(item.createdAt ? { createdAt: item.createdAt as string } : {}),
  // A rename: the name shown came from another request than the first name.
  ...(item.createdOrderKey && item.nameOrderKey !== item.createdOrderKey && item.nameAcceptedAt
    ? { renamedAt: item.nameAcceptedAt as string }
    : {}),
  firstSeenAt: item.firstSeenAt as string,
  ...(item.lastSyncedAt ? { lastSyncedAt: item.lastSyncedAt as string } : {}),
});

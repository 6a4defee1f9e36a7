/**
 * Cohorts table (hash `pk`, range `sk`):
 *   pk <ws>#COHORTS,        sk <partner>#<cohortId>   cohort: name, createdAt, memberCount, lastSyncedAt
 *   pk <ws>#C#<partner>#<cohortId>, sk M#<brazeId>    membership register: member, orderKey, effect
 *   pk <ws>#C#<partner>#<cohortId>, sk R#<acceptedAt>#<requestId>  sync report (expires after 90 days)
 * GSI `byUser` (sparse: only while member): gsi1pk <ws>#U#<brazeId>, gsi1sk <partner>#<cohortId>.
 * GSI `byCohort` (sparse: only while member): gsi2pk <ws>#C#<partner>#<cohortId>, gsi2sk <brazeId>.
 *
 * Membership writes and the member-count update go in one transaction, conditioned on
 * the register's previous order key: the count moves exactly when a membership flips,
 * whatever crashes, duplicates or concurrent writers happen around it.
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
import { backoff, batchGetAll, chunk, queryAll, queryItems, TRANSACT_WRITE_LIMIT } from './batch.js';
import { decideMembership, memberCountDelta, type MembershipDecision, type MembershipState } from '../cohorts/ordering.js';
import type { CohortRef } from '../cohorts/messages.js';
import type { DesiredMembership } from '../cohorts/matching.js';
import type { AppliedChange, ApplyOutcome, Cohort, MembershipStore, SyncReport } from '../cohorts/ports.js';

export type { AppliedChange, ApplyOutcome, Cohort, MembershipStore, SyncReport } from '../cohorts/ports.js';

const cohortListKey = (workspaceId: string) => `${workspaceId}#COHORTS`;
const cohortSortKey = (cohort: CohortRef) => `${cohort.partner}#${cohort.cohortId}`;
const cohortKey = (cohort: CohortRef) => `${cohort.workspaceId}#C#${cohort.partner}#${cohort.cohortId}`;
const memberSortKey = (brazeId: string) => `M#${brazeId}`;
const reportSortKey = (stamp: { acceptedAt: string; requestId: string }) => `R#${stamp.acceptedAt}#${stamp.requestId}`;
const userKey = (workspaceId: string, brazeId: string) => `${workspaceId}#U#${brazeId}`;

/** Sync reports are history for operators; DynamoDB's TTL deletes them after 90 days. */
const REPORT_TTL_SECONDS = 90 * 24 * 3600;
/** One transaction action is the cohort's count update; the rest are memberships. */
const MEMBERSHIPS_PER_TRANSACTION = TRANSACT_WRITE_LIMIT - 1;
const MAX_TRANSACTION_ATTEMPTS = 8;

export class DynamoMembershipStore implements MembershipStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async applyMemberships(cohort: CohortRef, desired: readonly DesiredMembership[], now: Date): Promise<ApplyOutcome & { changes: AppliedChange[] }> {
    const outcome: ApplyOutcome & { changes: AppliedChange[] } = { added: 0, removed: 0, alreadyInState: 0, superseded: 0, changes: [] };
    await this.ensureCohort(cohort, now);
    // All registers in one parallel read (100 keys per BatchGetItem) rather than one read per chunk.
    const registers = await this.readRegisters(cohort, desired.map((membership) => membership.brazeId));
    // Chunks run one after another: each transaction also updates the cohort's count,
    // and concurrent transactions on one item cancel each other.
    for (const memberships of chunk(desired, MEMBERSHIPS_PER_TRANSACTION)) {
      const decisions = await this.applyChunk(cohort, memberships, registers, now);
      decisions.forEach((decision, index) => {
        if (decision.outcome === 'added' || decision.outcome === 'removed') {
          outcome[decision.outcome] += 1;
          const { brazeId, orderKey } = memberships[index]!;
          outcome.changes.push({ brazeId, effect: decision.outcome, orderKey });
        } else if (decision.outcome === 'unchanged') outcome.alreadyInState += 1;
        else outcome.superseded += 1;
      });
    }
    return outcome;
  }

  private async applyChunk(
    cohort: CohortRef,
    memberships: readonly DesiredMembership[],
    known: Map<string, MembershipState>,
    now: Date,
  ): Promise<MembershipDecision[]> {
    let current = known;
    for (let attempt = 0; ; attempt += 1) {
      const decisions = memberships.map((membership) => decideMembership(current.get(membership.brazeId), membership));
      const writes = memberships.flatMap((membership, index) => {
        const decision = decisions[index]!;
        return decision.action === 'write' ? [this.registerPut(cohort, membership.brazeId, decision.next, current.get(membership.brazeId), now)] : [];
      });
      if (writes.length === 0) return decisions;
      const delta = decisions.reduce((sum, decision) => sum + memberCountDelta(decision), 0);
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: delta === 0 ? writes : [...writes, this.countUpdate(cohort, delta)],
          }),
        );
        return decisions;
      } catch (error: unknown) {
        // A concurrent writer moved a register (ConditionalCheckFailed) or held an item
        // (TransactionConflict): nothing was written; read again and decide again.
        if (!(error instanceof TransactionCanceledException) || attempt + 1 >= MAX_TRANSACTION_ATTEMPTS) throw error;
        await backoff(attempt);
        current = await this.readRegisters(cohort, memberships.map((membership) => membership.brazeId));
      }
    }
  }

  private async readRegisters(cohort: CohortRef, brazeIds: readonly string[]): Promise<Map<string, MembershipState>> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      brazeIds.map((brazeId) => ({ pk: cohortKey(cohort), sk: memberSortKey(brazeId) })),
      // Strongly consistent: a stale read would only cost a cancelled transaction, but
      // every retry is a round trip. Registers in a chunk are disjoint from other chunks'.
      { consistentRead: true, attributes: ['brazeId', 'member', 'orderKey', 'effect'] },
    );
    return new Map(
      items.map((item) => [
        item.brazeId as string,
        { member: item.member === true, orderKey: item.orderKey as string, effect: item.effect as MembershipState['effect'] },
      ]),
    );
  }

  private registerPut(cohort: CohortRef, brazeId: string, next: MembershipState, previous: MembershipState | undefined, now: Date) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          pk: cohortKey(cohort),
          sk: memberSortKey(brazeId),
          brazeId,
          member: next.member,
          orderKey: next.orderKey,
          effect: next.effect,
          updatedAt: now.toISOString(),
          // Sparse indexes, present only while a member: a user's cohorts, a cohort's members.
          ...(next.member
            ? { gsi1pk: userKey(cohort.workspaceId, brazeId), gsi1sk: cohortSortKey(cohort), gsi2pk: cohortKey(cohort), gsi2sk: brazeId }
            : {}),
        },
        ...(previous
          ? { ConditionExpression: 'orderKey = :previous', ExpressionAttributeValues: { ':previous': previous.orderKey } }
          : { ConditionExpression: 'attribute_not_exists(sk)' }),
      },
    };
  }

  private countUpdate(cohort: CohortRef, delta: number) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) },
        UpdateExpression: 'ADD memberCount :delta',
        ExpressionAttributeValues: { ':delta': delta },
      },
    };
  }

  /** Deltas for a cohort that was never named are accepted: it is listed under its id until a name arrives. */
  private async ensureCohort(cohort: CohortRef, now: Date): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) },
        UpdateExpression:
          'SET partner = :partner, cohortId = :cohortId, #name = if_not_exists(#name, :cohortId), firstSeenAt = if_not_exists(firstSeenAt, :now), memberCount = if_not_exists(memberCount, :zero), lastSyncedAt = :now',
        ExpressionAttributeNames: { '#name': 'name' },
        ExpressionAttributeValues: { ':partner': cohort.partner, ':cohortId': cohort.cohortId, ':now': now.toISOString(), ':zero': 0 },
      }),
    );
  }

  /** Create-or-rename; a rename older than the last one applied changes nothing. */
  async nameCohort(cohort: CohortRef, name: string, createdAt: string, orderKey: string, now: Date): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) },
          UpdateExpression:
            'SET partner = :partner, cohortId = :cohortId, #name = :name, createdAt = :createdAt, nameOrderKey = :orderKey, firstSeenAt = if_not_exists(firstSeenAt, :now), memberCount = if_not_exists(memberCount, :zero)',
          ConditionExpression: 'attribute_not_exists(nameOrderKey) OR nameOrderKey < :orderKey',
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: {
            ':partner': cohort.partner,
            ':cohortId': cohort.cohortId,
            ':name': name,
            ':createdAt': createdAt,
            ':orderKey': orderKey,
            ':now': now.toISOString(),
            ':zero': 0,
          },
        }),
      );
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

  async listCohorts(workspaceId: string): Promise<Cohort[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': cohortListKey(workspaceId) },
    });
    return items.map(toCohort);
  }

  async getCohort(cohort: CohortRef): Promise<Cohort | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: cohortListKey(cohort.workspaceId), sk: cohortSortKey(cohort) }, ConsistentRead: true }),
    );
    return response.Item && toCohort(response.Item);
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

  /** A cohort's members in braze_id order, after `after`, page by page (byCohort index). */
  async *cohortMembers(cohort: CohortRef, after?: string, pageSize = 1_000): AsyncGenerator<string> {
    const items = queryItems(this.client, {
      TableName: this.tableName,
      IndexName: 'byCohort',
      KeyConditionExpression: after === undefined ? 'gsi2pk = :cohort' : 'gsi2pk = :cohort AND gsi2sk > :after',
      ExpressionAttributeValues: { ':cohort': cohortKey(cohort), ...(after === undefined ? {} : { ':after': after }) },
      ProjectionExpression: 'gsi2sk',
      Limit: pageSize,
    });
    for await (const item of items) yield item.gsi2sk as string;
  }

  /** The cohorts a user is a member of (byUser index; eventually consistent). */
  async cohortsOfUser(workspaceId: string, brazeId: string): Promise<CohortRef[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      IndexName: 'byUser',
      KeyConditionExpression: 'gsi1pk = :user',
      ExpressionAttributeValues: { ':user': userKey(workspaceId, brazeId) },
    });
    return items.map((item) => {
      const [partner, ...rest] = String(item.gsi1sk).split('#');
      return { workspaceId, partner: partner!, cohortId: rest.join('#') };
    });
  }

  async getCohorts(workspaceId: string, refs: readonly CohortRef[]): Promise<Cohort[]> {
    const items = await batchGetAll(
      this.client,
      this.tableName,
      refs.map((ref) => ({ pk: cohortListKey(workspaceId), sk: cohortSortKey(ref) })),
    );
    return items.map(toCohort);
  }

  /**
   * A user merged away by identify leaves its cohorts: each membership ends with the
   * count moved in the same transaction (the identified user keeps its own memberships).
   */
  async dropUser(workspaceId: string, brazeId: string, now: Date): Promise<number> {
    const refs = await this.cohortsOfUser(workspaceId, brazeId);
    let dropped = 0;
    for (const ref of refs) {
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: { pk: cohortKey(ref), sk: memberSortKey(brazeId) },
                  // `member` is a DynamoDB reserved word.
                  UpdateExpression: 'SET #member = :false, effect = :removed, updatedAt = :now REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk',
                  ConditionExpression: '#member = :true',
                  ExpressionAttributeNames: { '#member': 'member' },
                  ExpressionAttributeValues: { ':false': false, ':true': true, ':removed': 'removed', ':now': now.toISOString() },
                },
              },
              this.countUpdate(ref, -1),
            ],
          }),
        );
        dropped += 1;
      } catch (error: unknown) {
        if (!(error instanceof TransactionCanceledException)) throw error;
      }
    }
    return dropped;
  }
}

const toCohort = (item: Record<string, unknown>): Cohort => ({
  partner: item.partner as string,
  cohortId: item.cohortId as string,
  name: item.name as string,
  memberCount: Number(item.memberCount ?? 0),
  ...(item.createdAt ? { createdAt: item.createdAt as string } : {}),
  firstSeenAt: item.firstSeenAt as string,
  ...(item.lastSyncedAt ? { lastSyncedAt: item.lastSyncedAt as string } : {}),
});

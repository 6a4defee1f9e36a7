/**
 * The campaigns table (docs/campaigns.md, "Data model"): definitions, triggers, due runs
 * and their ranges, journey entries, timers, send records, frequency caps and counters.
 * Every counter moves in the transaction that records what it counts, so the figures are
 * exact; per-user items have the user in their partition key, so a 10M-member audience
 * spreads over 10M partitions.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { createHash } from 'node:crypto';
import { versionedPut } from './optimistic.js';
import { backoff, batchGetAll, batchWriteAll, chunk, queryAll, queryPage, TRANSACT_WRITE_LIMIT } from './batch.js';
import { searchMatcher } from '../paging.js';
import { isLoadError, LoadError } from '../errors.js';
import { registerItemKey } from './membership-store.js';
import { RegisterLayouts } from './register-layout.js';
import { CAP_ITEM_TTL_SECONDS, capDecision, type CapSend } from '../campaigns/frequency-cap.js';
import { assignSlots } from '../campaigns/pacing.js';
import type { Campaign, CampaignKind, CampaignStatus } from '../campaigns/model.js';
import type { SendMessage } from '../campaigns/messages.js';
import {
  SKIP_REASONS,
  type CampaignStore,
  type Claim,
  type DueRun,
  type Entry,
  type FinishedSend,
  type FrequencyCap,
  type LastError,
  type MembershipChecks,
  type RunRange,
  type SendOutcome,
  type SkipReason,
  type StatsDelta,
  type StepStats,
  type Timer,
  TIMER_SHARDS,
} from '../campaigns/ports.js';
import { membershipKey } from '../campaigns/audience.js';
import { instantKey } from '../campaigns/instants.js';

/** AWS: BatchWriteItem takes at most 25 items. */
/** Counters over 32 partition keys: 32 × 1,000 WCU/s (a transactional update is 2 WCU) ≈ 16,000 counted events/s per campaign. */
export const STATS_LANES = 32;
/** Timer items over TIMER_SHARDS (32) partition keys: 32 × 1,000 WCU/s, above what one cohort's flips (≈ 15,800/s) can enter. */
/** Send records outlive any redelivery or retry window by far; DynamoDB's TTL drops them after 30 days. */
const SEND_TTL_SECONDS = 30 * 86_400;

const campaignsKey = (workspaceId: string) => `${workspaceId}#CAMPAIGNS`;
const triggersKey = (workspaceId: string) => `${workspaceId}#TRIGGERS`;
const DUE_KEY = 'RUNS#DUE';
/** Sort keys start with an instant, compared as text: instantKey keeps them in time order (lib/campaigns/instants.ts). */
const dueSortKey = (at: string, workspaceId: string, campaignId: string) =>
  `${instantKey(at)}#${workspaceId}#${campaignId}`;
const timerSortKey = (timer: { dueAt: string; timerId: string }) => `${instantKey(timer.dueAt)}#${timer.timerId}`;
const runKey = (workspaceId: string, campaignId: string, runId: string) => `${workspaceId}#${campaignId}#RUN#${runId}`;
const rangeSortKey = (range: number) => `R${String(range).padStart(2, '0')}`;
const entryKey = (workspaceId: string, campaignId: string, brazeId: string) =>
  `${workspaceId}#${campaignId}#E#${brazeId}`;
const timerKey = (shard: number) => `TIMERS#${String(shard).padStart(2, '0')}`;
const sendRecordKey = (message: Pick<SendMessage, 'workspaceId' | 'campaignId' | 'step' | 'brazeId' | 'entry'>) => ({
  pk: `${message.workspaceId}#${message.campaignId}#S#${message.brazeId}`,
  sk: `${message.step}#${message.entry}`,
});
const capKey = (workspaceId: string, brazeId: string) => ({ pk: `${workspaceId}#CAP#${brazeId}`, sk: 'CAP' });
const pacerKey = (workspaceId: string, campaignId: string) => ({
  pk: `${workspaceId}#${campaignId}#PACER`,
  sk: 'PACER',
});
/** A pacer's item outlives its last slot by a day, then expires (TTL). */
const PACER_TTL_SECONDS = 86_400;
/** Conditional rounds before a reservation gives up (a load error: the work message comes again). */
const PACER_ROUNDS = 20;
const settingsKey = (workspaceId: string) => ({ pk: `${workspaceId}#SETTINGS`, sk: 'FREQUENCY_CAP' });
const statsKey = (workspaceId: string, campaignId: string, lane: number) => ({
  pk: `${workspaceId}#${campaignId}#STATS#${String(lane).padStart(2, '0')}`,
  sk: 'STATS',
});
const randomLane = () => Math.floor(Math.random() * STATS_LANES);

const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException ||
  (error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed'));

/** An update that adds `delta` to step `step`'s counters (and sets its last error), as transaction or command input. */
const statsUpdate = (
  tableName: string,
  workspaceId: string,
  campaignId: string,
  deltas: { step: number; delta: StatsDelta; lastError?: LastError }[],
) => {
  const adds: string[] = [];
  const sets: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  let index = 0;
  for (const { step, delta, lastError } of deltas) {
    for (const [counter, value] of Object.entries(delta)) {
      if (!value) continue;
      names[`#c${index}`] = `s${step}_${counter}`;
      values[`:c${index}`] = value;
      adds.push(`#c${index} :c${index}`);
      index += 1;
    }
    if (lastError) {
      names[`#e${index}`] = `s${step}_last_error`;
      values[`:e${index}`] = lastError;
      sets.push(`#e${index} = :e${index}`);
      index += 1;
    }
  }
  if (adds.length === 0 && sets.length === 0) return undefined;
  return {
    TableName: tableName,
    Key: statsKey(workspaceId, campaignId, randomLane()),
    UpdateExpression: [adds.length ? `ADD ${adds.join(', ')}` : '', sets.length ? `SET ${sets.join(', ')}` : '']
      .filter(Boolean)
      .join(' '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
};

/** What a claim expects the send record to be; the transaction's condition says it. */
type ClaimExpectation =
  | { kind: 'absent' }
  | { kind: 'retrying'; attempt: number }
  /** `sending` whose lease (this value) ran out: a sender died mid-request. */
  | { kind: 'lapsed'; leaseUntil: number; attempt: number };

/**
 * Rounds of claim transactions before giving up on a batch (its messages are handed back):
 * each round settles or re-expects every record whose condition failed, so a few suffice
 * unless DynamoDB keeps cancelling for load.
 */
const MAX_CLAIM_ROUNDS = 12;
/** Outcome transactions cancelled for load before the error is thrown (the sender hands the messages back). */
/** Queries (of at most 1 MB each) one list page may make. */
const LIST_QUERIES = 5;
const MAX_TRANSACTION_ATTEMPTS = 12;
/**
 * What an outcome transaction may carry besides its records: one stats update per
 * campaign (AWS: 100 actions per TransactWriteItems) and well under 4 MB in total (the
 * outcomes' reasons are short; a template error's is bounded by this budget too).
 */
const TRANSACTION_BYTES_BUDGET = 1_000_000;

/** A claim whose condition failed, decided from the record as it is: settled, or expected as it is now. */
const classifyRecord = (record: Record<string, unknown> | undefined, now: Date): Claim | ClaimExpectation => {
  if (!record) return { kind: 'absent' };
  if (record.state === 'done') return { state: 'done' };
  if (record.state === 'retrying') return { kind: 'retrying', attempt: Number(record.attempt ?? 0) };
  const leaseUntil = Number(record.leaseUntil ?? 0);
  if (leaseUntil > now.getTime()) return { state: 'busy', retryInMs: leaseUntil - now.getTime() };
  return { kind: 'lapsed', leaseUntil, attempt: Number(record.attempt ?? 1) };
};

/** What an outcome adds to its step's counters. */
const outcomeDelta = (outcome: SendOutcome): StatsDelta =>
  outcome.kind === 'delivered'
    ? { sent: 1, delivered: 1 }
    : outcome.kind === 'failed'
      ? { ...(outcome.sent ? { sent: 1 } : {}), failed: 1 }
      : { [`skipped_${outcome.reason}`]: 1 };

const outcomeLastError = (outcome: SendOutcome, now: Date): LastError | undefined =>
  outcome.kind === 'failed'
    ? { at: now.toISOString(), reason: outcome.reason, status: outcome.status }
    : outcome.kind === 'skipped' && outcome.reason === 'template_error'
      ? { at: now.toISOString(), reason: `template error: ${outcome.detail ?? ''}`, status: 0 }
      : undefined;

interface StepDelta {
  step: number;
  delta: StatsDelta;
  lastError?: LastError;
}

/** Outcomes cut into transactions: records plus one stats update per campaign ≤ 100 actions, and within the byte budget. */
const transactionSlices = (sends: readonly FinishedSend[]): number[][] => {
  const slices: number[][] = [];
  let slice: number[] = [];
  let campaigns = new Set<string>();
  let bytes = 0;
  sends.forEach(({ message, outcome }, index) => {
    const campaign = `${message.workspaceId}\u0000${message.campaignId}`;
    const size = Buffer.byteLength(JSON.stringify(outcome)) + 512;
    const actions = slice.length + 1 + campaigns.size + (campaigns.has(campaign) ? 0 : 1);
    if (slice.length > 0 && (actions > TRANSACT_WRITE_LIMIT || bytes + size > TRANSACTION_BYTES_BUDGET)) {
      slices.push(slice);
      slice = [];
      campaigns = new Set();
      bytes = 0;
    }
    slice.push(index);
    campaigns.add(campaign);
    bytes += size;
  });
  if (slice.length > 0) slices.push(slice);
  return slices;
};

const toCampaign = (item: Record<string, unknown>): Campaign => {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as unknown as Campaign;
};

export class DynamoCampaignStore implements CampaignStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  // --- definitions -----------------------------------------------------------------------

  async create(campaign: Campaign): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: campaignsKey(campaign.workspaceId), sk: campaign.campaignId, ...campaign },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(workspaceId: string, campaignId: string): Promise<Campaign | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: campaignsKey(workspaceId), sk: campaignId },
        ConsistentRead: true,
      }),
    );
    return Item && toCampaign(Item);
  }

  async listPage(
    workspaceId: string,
    kind: CampaignKind,
    page: { limit: number; after?: string; segmentId?: string; search?: string; order?: 'asc' | 'desc' },
  ): Promise<{ campaigns: Campaign[]; next?: string }> {
    const pk = campaignsKey(workspaceId);
    const matches = searchMatcher(page.search);
    // Each query reads at most 1 MB (DynamoDB's page); a few of them bound a request's work.
    const found = await queryPage(
      this.client,
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        FilterExpression: `kind = :kind${page.segmentId === undefined ? '' : ' AND contains(segmentIds, :segment)'}`,
        ExpressionAttributeValues: {
          ':pk': pk,
          ':kind': kind,
          ...(page.segmentId === undefined ? {} : { ':segment': page.segmentId }),
        },
        ScanIndexForward: page.order !== 'desc',
        pk,
      },
      {
        limit: page.limit,
        queries: LIST_QUERIES,
        ...(page.after === undefined ? {} : { after: page.after }),
        ...(matches ? { keep: (item) => matches({ name: item.name, id: item.sk }) } : {}),
      },
    );
    return { campaigns: found.items.map(toCampaign), ...(found.next !== undefined ? { next: found.next } : {}) };
  }

  /**
   * Replaces the campaign if its status is one of `from` (and its kind matches): false
   * otherwise. Launch, stop, archive and draft edits all go through here, so two
   * concurrent calls cannot both move a campaign out of the same state.
   */
  /**
   * Writes the whole definition if it is still in one of `from` and still the revision it was
   * read at (`campaign.revision`); the item written carries the next revision. False when a
   * concurrent write came first (another edit, a launch, a run's progress): nothing written.
   */
  async replace(campaign: Campaign, from: readonly CampaignStatus[], options: { due?: DueRun } = {}): Promise<boolean> {
    const read = campaign.revision;
    const put = {
      TableName: this.tableName,
      Item: {
        pk: campaignsKey(campaign.workspaceId),
        sk: campaign.campaignId,
        ...campaign,
        revision: (read ?? 0) + 1,
      },
      ConditionExpression: `attribute_exists(pk) AND kind = :kind AND #status IN (${from.map((_, i) => `:s${i}`).join(', ')}) AND ${
        read === undefined ? 'attribute_not_exists(revision)' : 'revision = :revision'
      }`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':kind': campaign.kind,
        ...Object.fromEntries(from.map((status, i) => [`:s${i}`, status])),
        ...(read === undefined ? {} : { ':revision': read }),
      },
    };
    const { due } = options;
    try {
      if (due)
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: put },
              {
                Put: {
                  TableName: this.tableName,
                  Item: { pk: DUE_KEY, sk: dueSortKey(due.scheduledAt, due.workspaceId, due.campaignId), ...due },
                },
              },
            ],
          }),
        );
      else await this.client.send(new PutCommand(put));
      return true;
    } catch (error: unknown) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  // --- triggers: which action-based campaigns an event on a cohort concerns ----------------

  async putTriggers(workspaceId: string, campaignId: string, cohorts: { partner: string; cohortId: string }[]) {
    await this.batchWrite(
      cohorts.map((cohort) => ({
        PutRequest: {
          Item: {
            pk: triggersKey(workspaceId),
            sk: `${cohort.partner}#${cohort.cohortId}#${campaignId}`,
            partner: cohort.partner,
            cohortId: cohort.cohortId,
            campaignId,
          },
        },
      })),
    );
  }

  async deleteTriggers(workspaceId: string, campaignId: string, cohorts: { partner: string; cohortId: string }[]) {
    await this.batchWrite(
      cohorts.map((cohort) => ({
        DeleteRequest: {
          Key: { pk: triggersKey(workspaceId), sk: `${cohort.partner}#${cohort.cohortId}#${campaignId}` },
        },
      })),
    );
  }

  async triggersOf(workspaceId: string, partner: string, cohortId: string): Promise<string[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': triggersKey(workspaceId), ':prefix': `${partner}#${cohortId}#` },
    });
    // A cohort id may hold '#': the prefix of "c" also finds "c#1"'s triggers.
    return items
      .filter((item) => item.partner === partner && item.cohortId === cohortId)
      .map((item) => item.campaignId as string);
  }

  // --- scheduled runs ----------------------------------------------------------------------

  async deleteDue(run: DueRun): Promise<void> {
    // A DeleteItem: a BatchWriteItem of one would drop it silently when throttled (UnprocessedItems).
    await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { pk: DUE_KEY, sk: dueSortKey(run.scheduledAt, run.workspaceId, run.campaignId) },
      }),
    );
  }

  async dueRuns(now: Date, limit = 100): Promise<DueRun[]> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk <= :now',
        ExpressionAttributeValues: { ':pk': DUE_KEY, ':now': `${instantKey(now)}#~` },
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    return (Items ?? []).map((item) => ({
      workspaceId: item.workspaceId as string,
      campaignId: item.campaignId as string,
      scheduledAt: item.scheduledAt as string,
      ...(item.started === true ? { started: true } : {}),
    }));
  }

  /**
   * Begins a due run, once: its ranges are created and the due item marked started, in one
   * transaction conditioned on the due item being there and the ranges not (two ticks cannot
   * both begin it). False when it was begun already or is no longer due.
   */
  async beginRun(run: DueRun, runId: string, ranges: RunRange[]): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: DUE_KEY, sk: dueSortKey(run.scheduledAt, run.workspaceId, run.campaignId) },
                UpdateExpression: 'SET started = :true',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeValues: { ':true': true },
              },
            },
            ...ranges.map((range) => ({
              Put: {
                TableName: this.tableName,
                Item: { pk: runKey(run.workspaceId, run.campaignId, runId), sk: rangeSortKey(range.range), ...range },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            })),
          ],
        }),
      );
      return true;
    } catch (error: unknown) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Ends the start of a run whose first chunks are queued: the due item goes, the next
   * occurrence (recurring) comes, in one transaction. False when another tick did it.
   */
  async completeRun(run: DueRun, next: DueRun | undefined, now: Date): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tableName,
                Key: { pk: DUE_KEY, sk: dueSortKey(run.scheduledAt, run.workspaceId, run.campaignId) },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            ...(next
              ? [
                  {
                    Put: {
                      TableName: this.tableName,
                      Item: {
                        pk: DUE_KEY,
                        sk: dueSortKey(next.scheduledAt, next.workspaceId, next.campaignId),
                        workspaceId: next.workspaceId,
                        campaignId: next.campaignId,
                        scheduledAt: next.scheduledAt,
                      },
                    },
                  },
                ]
              : []),
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: campaignsKey(run.workspaceId), sk: run.campaignId },
                // A new revision: a stop or an edit that read the campaign before this run's progress loses (409).
                UpdateExpression: next
                  ? 'SET nextRunAt = :next, lastRunAt = :now, revision = if_not_exists(revision, :zero) + :one'
                  : 'SET lastRunAt = :now, revision = if_not_exists(revision, :zero) + :one REMOVE nextRunAt',
                ExpressionAttributeValues: {
                  ':now': now.toISOString(),
                  ':zero': 0,
                  ':one': 1,
                  ...(next ? { ':next': next.scheduledAt } : {}),
                },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error: unknown) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getRange(workspaceId: string, campaignId: string, runId: string, range: number): Promise<RunRange | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runKey(workspaceId, campaignId, runId), sk: rangeSortKey(range) },
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, ...rest } = Item;
    return rest as RunRange;
  }

  /** Records a chunk of a range, conditioned on the chunk number (a duplicate chunk records nothing), with `targeted` counted. */
  async advanceRange(
    workspaceId: string,
    campaignId: string,
    runId: string,
    range: RunRange,
    next: { after?: string; done: boolean; targeted: number },
  ): Promise<boolean> {
    const stats = statsUpdate(this.tableName, workspaceId, campaignId, [
      { step: 0, delta: { targeted: next.targeted } },
    ]);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: runKey(workspaceId, campaignId, runId), sk: rangeSortKey(range.range) },
                UpdateExpression: `SET chunks = :next, done = :done, targeted = targeted + :n${next.after !== undefined ? ', #after = :after' : ''}`,
                ConditionExpression: 'chunks = :chunks',
                ExpressionAttributeNames: next.after !== undefined ? { '#after': 'after' } : undefined,
                ExpressionAttributeValues: {
                  ':chunks': range.chunks,
                  ':next': range.chunks + 1,
                  ':done': next.done,
                  ':n': next.targeted,
                  ...(next.after !== undefined ? { ':after': next.after } : {}),
                },
              },
            },
            ...(stats ? [{ Update: stats }] : []),
          ],
        }),
      );
      return true;
    } catch (error: unknown) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  // --- API triggers (docs/campaigns.md, "API-triggered campaigns and Canvases") -------------

  /**
   * Records a trigger call made with an `Idempotency-Key` (its dispatch, and a fingerprint of its
   * body), once: `new` the first time, `same` for a replay of the same body, `different` for the
   * key reused with another body. Kept as long as send records (30 days).
   */
  async claimDispatch(
    workspaceId: string,
    campaignId: string,
    dispatchId: string,
    fingerprint: string,
    now: Date,
  ): Promise<'new' | 'same' | 'different'> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `${workspaceId}#${campaignId}#D#${dispatchId}`,
            sk: 'DISPATCH',
            fingerprint,
            at: now.toISOString(),
            ttl: Math.floor(now.getTime() / 1000) + SEND_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'new';
    } catch (error: unknown) {
      if (error instanceof ConditionalCheckFailedException)
        return error.Item && unmarshall(error.Item).fingerprint === fingerprint ? 'same' : 'different';
      throw error;
    }
  }

  /** Writes a broadcast's 16 ranges (a run without a due item), once: false if they exist already. */
  async beginBroadcast(workspaceId: string, campaignId: string, runId: string, ranges: RunRange[]): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: ranges.map((range) => ({
            Put: {
              TableName: this.tableName,
              Item: { pk: runKey(workspaceId, campaignId, runId), sk: rangeSortKey(range.range), ...range },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          })),
        }),
      );
      return true;
    } catch (error: unknown) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  // --- journey entries ---------------------------------------------------------------------

  /**
   * Enters a user, with `targeted + 1` on every step in the same transaction: only if the
   * user has no entry, or the last one is over (exited, or past its end) and the user is
   * re-eligible. `again`: this very entry exists already (a duplicate event).
   */
  async enter(
    workspaceId: string,
    campaignId: string,
    brazeId: string,
    entry: Entry,
    steps: number,
    now: Date,
  ): Promise<'entered' | 'again' | 'not_eligible'> {
    const stats = statsUpdate(
      this.tableName,
      workspaceId,
      campaignId,
      Array.from({ length: steps }, (_, step) => ({ step, delta: { targeted: 1 } })),
    );
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { pk: entryKey(workspaceId, campaignId, brazeId), sk: 'ENTRY', ...entry },
                ConditionExpression:
                  'attribute_not_exists(pk) OR ((#state = :exited OR endsAt <= :now) AND reeligibleAt <= :now AND stamp <> :stamp)',
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: { ':exited': 'exited', ':now': now.toISOString(), ':stamp': entry.stamp },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...(stats ? [{ Update: stats }] : []),
          ],
        }),
      );
      return 'entered';
    } catch (error: unknown) {
      if (error instanceof TransactionCanceledException) {
        const old = error.CancellationReasons?.[0]?.Item;
        if (error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed')
          return old && unmarshall(old).stamp === entry.stamp ? 'again' : 'not_eligible';
      }
      throw error;
    }
  }

  async getEntry(workspaceId: string, campaignId: string, brazeId: string): Promise<Entry | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: entryKey(workspaceId, campaignId, brazeId), sk: 'ENTRY' },
        ConsistentRead: true,
      }),
    );
    return Item as Entry | undefined;
  }

  /** Ends an active entry (the user left the segment), conditioned on its stamp. */
  async exit(
    workspaceId: string,
    campaignId: string,
    brazeId: string,
    stamp: string,
    now: Date,
    by?: 'event',
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: entryKey(workspaceId, campaignId, brazeId), sk: 'ENTRY' },
          UpdateExpression: `SET #state = :exited, exitedAt = :now${by ? ', exitedBy = :by' : ''}`,
          ConditionExpression: 'stamp = :stamp AND #state = :active',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':exited': 'exited',
            ':active': 'active',
            ':stamp': stamp,
            ':now': now.toISOString(),
            ...(by ? { ':by': by } : {}),
          },
        }),
      );
      return true;
    } catch (error: unknown) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  // --- timers ------------------------------------------------------------------------------

  static timerShard(timerId: string): number {
    return createHash('sha256').update(timerId).digest().readUInt32BE(0) % TIMER_SHARDS;
  }

  /** Same id, same item: putting a timer twice (a duplicate event) leaves one. */
  async putTimers(timers: readonly Timer[]): Promise<void> {
    await this.batchWrite(
      timers.map((timer) => ({
        PutRequest: {
          Item: {
            pk: timerKey(DynamoCampaignStore.timerShard(timer.timerId)),
            sk: timerSortKey(timer),
            ...timer,
          },
        },
      })),
    );
  }

  /** Timers of a shard due at or before `until`, earliest first. */
  async dueTimers(shard: number, until: Date, limit: number): Promise<Timer[]> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk <= :until',
        ExpressionAttributeValues: { ':pk': timerKey(shard), ':until': `${instantKey(until)}#~` },
        Limit: limit,
      }),
    );
    return (Items ?? []).map((item) => ({
      timerId: item.timerId as string,
      dueAt: item.dueAt as string,
      message: item.message as SendMessage,
    }));
  }

  async deleteTimers(timers: readonly Timer[]): Promise<void> {
    await this.batchWrite(
      timers.map((timer) => ({
        DeleteRequest: {
          Key: { pk: timerKey(DynamoCampaignStore.timerShard(timer.timerId)), sk: timerSortKey(timer) },
        },
      })),
    );
  }

  // --- sends: the idempotency record of each message ---------------------------------------

  /**
   * Takes messages for sending, up to 100 in one TransactWriteItems (AWS's limit per call),
   * each claim conditioned on the record being as expected:
   * - absent → `sending`, attempt 1, a lease;
   * - `retrying` after attempt n → `sending`, attempt n + 1, a lease;
   * - `sending` with its lease run out (a sender died mid-request) → taken over with a new
   *   lease: `abandoned`, to be recorded failed (its outcome is unknown: never sent again).
   * A claim whose condition fails cancels the transaction, and its CancellationReason
   * carries the record as it is (ReturnValuesOnConditionCheckFailure): `done` → nothing to
   * do; `sending` under a live lease → another delivery has it (`busy`); `retrying` or a
   * lapsed lease → expected as such in the next round. A cancelled transaction wrote
   * nothing, so the rest are claimed in the next one; cancelled for load alone (a
   * conflict, throttling), the same transaction again after a backoff. Each claim stays as
   * conditional as a single `UpdateItem`'s; the messages must have distinct send records.
   */
  async claimSends(messages: readonly SendMessage[], now: Date, leaseMs: number): Promise<Claim[]> {
    const claims = new Array<Claim>(messages.length);
    for (const slice of chunk(
      messages.map((_, index) => index),
      TRANSACT_WRITE_LIMIT,
    )) {
      const expected = new Map<number, ClaimExpectation>(slice.map((index) => [index, { kind: 'absent' }]));
      for (let round = 0, loadRounds = 0; expected.size > 0; round += 1) {
        if (round >= MAX_CLAIM_ROUNDS) throw new LoadError(`claims not settled after ${round} transactions`);
        const pending = [...expected];
        try {
          await this.client.send(
            new TransactWriteCommand({
              TransactItems: pending.map(([index, expectation]) => ({
                Update: this.claimUpdate(messages[index]!, expectation, now, leaseMs),
              })),
            }),
          );
          for (const [index, expectation] of pending)
            claims[index] =
              expectation.kind === 'lapsed'
                ? { state: 'abandoned', attempt: expectation.attempt }
                : { state: 'claimed', attempt: expectation.kind === 'absent' ? 1 : expectation.attempt + 1 };
          expected.clear();
        } catch (error: unknown) {
          if (!(error instanceof TransactionCanceledException)) throw error;
          const reasons = error.CancellationReasons ?? [];
          let moved = false;
          pending.forEach(([index], position) => {
            const reason = reasons[position];
            if (reason?.Code !== 'ConditionalCheckFailed') return;
            moved = true;
            const next = classifyRecord(reason.Item ? unmarshall(reason.Item) : undefined, now);
            if ('state' in next) {
              claims[index] = next;
              expected.delete(index);
            } else expected.set(index, next);
          });
          if (moved) continue;
          if (!isLoadError(error)) throw error;
          await backoff(loadRounds++, 50, 2_000);
        }
      }
    }
    return claims;
  }

  /** One message's claim (docs/campaigns.md, "The sender"): `claimSends` of one. */
  async claimSend(message: SendMessage, now: Date, leaseMs: number): Promise<Claim> {
    return (await this.claimSends([message], now, leaseMs))[0]!;
  }

  private claimUpdate(message: SendMessage, expectation: ClaimExpectation, now: Date, leaseMs: number) {
    const base = {
      TableName: this.tableName,
      Key: sendRecordKey(message),
      ExpressionAttributeNames: { '#state': 'state' } as Record<string, string>,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    const lease = { ':lease': now.getTime() + leaseMs, ':now': now.toISOString() };
    if (expectation.kind === 'lapsed')
      return {
        ...base,
        UpdateExpression: 'SET leaseUntil = :lease, updatedAt = :now',
        ConditionExpression: '#state = :sending AND leaseUntil = :old',
        ExpressionAttributeValues: { ...lease, ':sending': 'sending', ':old': expectation.leaseUntil },
      };
    const values = {
      ...lease,
      ':sending': 'sending',
      ':attempt': expectation.kind === 'absent' ? 1 : expectation.attempt + 1,
      ':ttl': Math.floor(now.getTime() / 1000) + SEND_TTL_SECONDS,
    };
    const update = 'SET #state = :sending, attempt = :attempt, leaseUntil = :lease, updatedAt = :now, #ttl = :ttl';
    const names = { '#state': 'state', '#ttl': 'ttl' };
    return expectation.kind === 'absent'
      ? {
          ...base,
          UpdateExpression: update,
          ConditionExpression: 'attribute_not_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }
      : {
          ...base,
          UpdateExpression: update,
          ConditionExpression: '#state = :retrying AND attempt = :previous',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ':retrying': 'retrying', ':previous': expectation.attempt },
        };
  }

  /**
   * A write that settles a claim after its request went out (or surely did not): if it
   * failed, the claim would hold until its lease ends and the send would be counted an
   * unknown outcome, never retried. So throttling is waited out here, past the SDK's own
   * retries, as `finishSends` does.
   */
  private async waitingOutLoad(command: UpdateCommand): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.client.send(command);
        return;
      } catch (error: unknown) {
        if (!isLoadError(error) || attempt + 1 >= MAX_TRANSACTION_ATTEMPTS) throw error;
        await backoff(attempt, 50, 2_000);
      }
    }
  }

  /** Hands the message back for a later attempt (the attempt keeps its number). */
  async markRetrying(message: SendMessage, attempt: number, reason: string, now: Date): Promise<void> {
    try {
      await this.waitingOutLoad(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sendRecordKey(message),
          UpdateExpression: 'SET #state = :retrying, lastReason = :reason, updatedAt = :now',
          ConditionExpression: '#state = :sending AND attempt = :attempt',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':retrying': 'retrying',
            ':sending': 'sending',
            ':attempt': attempt,
            ':reason': reason,
            ':now': now.toISOString(),
          },
        }),
      );
    } catch (error: unknown) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Gives a claim back unused (nothing was sent: the function ran short of time, or a read
   * failed before the request): `retrying` with the attempt it had before, so the next
   * claim is the same attempt again.
   */
  async releaseSend(message: SendMessage, attempt: number, now: Date): Promise<void> {
    try {
      await this.waitingOutLoad(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sendRecordKey(message),
          UpdateExpression: 'SET #state = :retrying, attempt = :previous, updatedAt = :now',
          ConditionExpression: '#state = :sending AND attempt = :attempt',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':retrying': 'retrying',
            ':sending': 'sending',
            ':attempt': attempt,
            ':previous': attempt - 1,
            ':now': now.toISOString(),
          },
        }),
      );
    } catch (error: unknown) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Records outcomes and counts them: each record `done`, conditioned on its attempt still
   * holding it, and per campaign one stats-lane update with the batch's counters summed,
   * in one transaction (up to 100 actions, AWS's limit; a few hundred KB, far under its
   * 4 MB). Counted once whatever is redelivered: a record another delivery took over fails
   * its condition, which cancels the whole transaction (nothing written); it is left out
   * (false) and the rest recorded again with their sums recomputed. Cancelled for load
   * alone: again after a backoff, on another lane.
   */
  async finishSends(sends: readonly FinishedSend[], now: Date): Promise<boolean[]> {
    const recorded = new Array<boolean>(sends.length).fill(false);
    for (const slice of transactionSlices(sends)) {
      let pending = slice;
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        const records = pending.map((index) => ({ Update: this.outcomeUpdate(sends[index]!, now) }));
        const counters = this.batchStats(
          pending.map((index) => sends[index]!),
          now,
        ).map((Update) => ({ Update }));
        try {
          await this.client.send(new TransactWriteCommand({ TransactItems: [...records, ...counters] }));
          for (const index of pending) recorded[index] = true;
          pending = [];
        } catch (error: unknown) {
          // These requests went out: an outcome not recorded becomes "outcome unknown" once the
          // lease ends, so throttling (past the SDK's own retries) is waited out here too.
          if (attempt + 1 >= MAX_TRANSACTION_ATTEMPTS) throw error;
          const reasons = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
          const taken = new Set(pending.filter((_, position) => reasons[position]?.Code === 'ConditionalCheckFailed'));
          if (taken.size > 0) pending = pending.filter((index) => !taken.has(index));
          else if (isLoadError(error)) await backoff(attempt, 50, 2_000);
          else throw error;
        }
      }
    }
    return recorded;
  }

  /** One message's outcome (`finishSends` of one): false when another delivery holds it. */
  async finishSend(message: SendMessage, attempt: number, outcome: SendOutcome, now: Date): Promise<boolean> {
    return (await this.finishSends([{ message, attempt, outcome }], now))[0]!;
  }

  private outcomeUpdate({ message, attempt, outcome }: FinishedSend, now: Date) {
    return {
      TableName: this.tableName,
      Key: sendRecordKey(message),
      UpdateExpression: 'SET #state = :done, outcome = :outcome, updatedAt = :now',
      ConditionExpression: '#state = :sending AND attempt = :attempt',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':done': 'done',
        ':sending': 'sending',
        ':attempt': attempt,
        ':outcome': outcome,
        ':now': now.toISOString(),
      },
    };
  }

  /** One stats update per campaign among `sends`: each step's counters summed, its last error the batch's last. */
  private batchStats(sends: readonly FinishedSend[], now: Date) {
    const campaigns = new Map<string, { workspaceId: string; campaignId: string; steps: Map<number, StepDelta> }>();
    for (const { message, outcome } of sends) {
      const id = `${message.workspaceId}\u0000${message.campaignId}`;
      let campaign = campaigns.get(id);
      if (!campaign)
        campaigns.set(
          id,
          (campaign = { workspaceId: message.workspaceId, campaignId: message.campaignId, steps: new Map() }),
        );
      let step = campaign.steps.get(message.step);
      if (!step) campaign.steps.set(message.step, (step = { step: message.step, delta: {} }));
      for (const [counter, value] of Object.entries(outcomeDelta(outcome)) as [keyof StatsDelta, number][])
        step.delta[counter] = (step.delta[counter] ?? 0) + value;
      const lastError = outcomeLastError(outcome, now);
      if (lastError) step.lastError = lastError;
    }
    return [...campaigns.values()].flatMap(
      (campaign) =>
        statsUpdate(this.tableName, campaign.workspaceId, campaign.campaignId, [...campaign.steps.values()]) ?? [],
    );
  }

  // --- the frequency cap -------------------------------------------------------------------

  async getFrequencyCap(workspaceId: string): Promise<FrequencyCap | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: settingsKey(workspaceId) }),
    );
    return Item ? { maxMessages: Item.maxMessages as number, windowSeconds: Item.windowSeconds as number } : undefined;
  }

  async setFrequencyCap(workspaceId: string, cap: FrequencyCap | null): Promise<void> {
    if (cap === null) {
      await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: settingsKey(workspaceId) }));
      return;
    }
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...settingsKey(workspaceId), ...cap } }),
    );
  }

  // --- send-rate limit ----------------------------------------------------------------------

  async pacerNext(workspaceId: string, campaignId: string): Promise<number | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: pacerKey(workspaceId, campaignId), ConsistentRead: true }),
    );
    return Item?.next === undefined ? undefined : Number(Item.next);
  }

  async reserveSlots(
    workspaceId: string,
    campaignId: string,
    dues: readonly number[],
    perMinute: number,
  ): Promise<number[]> {
    if (dues.length === 0) return [];
    return versionedPut(
      this.client,
      this.tableName,
      pacerKey(workspaceId, campaignId),
      {
        rounds: PACER_ROUNDS,
        baseMs: 20,
        capMs: 2_000,
        exhausted: () => new LoadError(`send-rate limit: too many concurrent releases for campaign ${campaignId}`),
      },
      (current) => {
        const { slots, next } = assignSlots(
          current?.next === undefined ? undefined : Number(current.next),
          dues,
          perMinute,
        );
        return { answer: slots, item: { next, ttl: Math.ceil(next! / 1000) + PACER_TTL_SECONDS } };
      },
    );
  }

  /**
   * Takes a slot of the user's cap for message `key`: the user's item lists the keys sent
   * inside the window; fewer than the cap → this key is added, conditioned on the version
   * read (a concurrent send makes this one read again). Exact under any concurrency; a
   * key already listed (a retry of the same message) takes no second slot.
   */
  async admit(workspaceId: string, brazeId: string, key: string, cap: FrequencyCap, now: Date): Promise<boolean> {
    return versionedPut(
      this.client,
      this.tableName,
      capKey(workspaceId, brazeId),
      {
        rounds: 20,
        baseMs: 20,
        capMs: 1_280,
        exhausted: () => new LoadError('frequency cap: too many concurrent sends to one user'),
      },
      (current) => {
        const decision = capDecision((current?.sends ?? []) as CapSend[], key, cap, now.getTime());
        if (decision.kind === 'already') return { answer: true };
        if (decision.kind === 'full') return { answer: false };
        return {
          answer: true,
          item: { sends: decision.sends, ttl: Math.floor(now.getTime() / 1000) + CAP_ITEM_TTL_SECONDS },
        };
      },
    );
  }

  // --- figures -----------------------------------------------------------------------------

  async stats(workspaceId: string, campaignId: string, steps: number): Promise<StepStats[]> {
    const lanes = await batchGetAll(
      this.client,
      this.tableName,
      Array.from({ length: STATS_LANES }, (_, lane) => statsKey(workspaceId, campaignId, lane)),
      { consistentRead: true },
    );
    return Array.from({ length: steps }, (_, step) => {
      const sum = (counter: string) =>
        lanes.reduce((total, lane) => total + Number(lane[`s${step}_${counter}`] ?? 0), 0);
      const lastError = lanes
        .map((lane) => lane[`s${step}_last_error`] as LastError | undefined)
        .filter((error): error is LastError => error !== undefined)
        .sort((a, b) => (a.at < b.at ? 1 : -1))[0];
      return {
        targeted: sum('targeted'),
        sent: sum('sent'),
        delivered: sum('delivered'),
        failed: sum('failed'),
        skipped: Object.fromEntries(SKIP_REASONS.map((reason) => [reason, sum(`skipped_${reason}`)])) as Record<
          SkipReason,
          number
        >,
        lastError: lastError ?? null,
      };
    });
  }

  private async batchWrite(requests: Record<string, unknown>[]): Promise<void> {
    await batchWriteAll(this.client, this.tableName, requests);
  }
}

/**
 * A user's memberships in some cohorts, from the cohorts table's registers, read strongly
 * consistent (one BatchGetItem per 100 cohorts): what decides whether the user is in a
 * campaign's target now.
 */
export class DynamoMembershipReader implements MembershipChecks {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly cohortsTable: string,
    /** Each cohort's register shards (32 or 64), learnt once. */
    private readonly layouts = new RegisterLayouts(client, cohortsTable),
  ) {}

  async memberOf(
    workspaceId: string,
    brazeId: string,
    cohorts: readonly { partner: string; cohortId: string }[],
  ): Promise<Set<string>> {
    const keyed = await Promise.all(
      cohorts.map(async (cohort) => {
        const ref = { workspaceId, ...cohort };
        return { cohort, key: registerItemKey(ref, brazeId, await this.layouts.shardsOf(ref)) };
      }),
    );
    const items = await batchGetAll(
      this.client,
      this.cohortsTable,
      keyed.map(({ key }) => key),
      { consistentRead: true, attributes: ['pk', 'member'] },
    );
    const members = new Set(items.filter((item) => item.member === true).map((item) => item.pk as string));
    return new Set(
      keyed
        .filter(({ key }) => members.has(key.pk))
        .map(({ cohort }) => membershipKey(cohort.partner, cohort.cohortId)),
    );
  }
}

/**
 * The ports campaigns and Canvases are written against; lib/dynamodb/campaign-store.ts and
 * lib/sqs/campaign-queues.ts implement them (docs/campaigns.md, "Data model").
 */
import type { Campaign, CampaignKind, CampaignStatus } from './model.js';
import type { SendMessage, WorkMessage } from './messages.js';

export const SKIP_REASONS = [
  'left_segment',
  'frequency_cap',
  'template_error',
  'user_not_found',
  'campaign_stopped',
  'entry_ended',
  'exit_event',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];
export type Counter = 'targeted' | 'sent' | 'delivered' | 'failed' | `skipped_${SkipReason}`;

/** What a step's counters move by in one write. */
export type StatsDelta = Partial<Record<Counter, number>>;
export interface LastError {
  at: string;
  reason: string;
  status: number;
}
export interface StepStats {
  targeted: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: Record<SkipReason, number>;
  lastError: LastError | null;
}

/** At most `maxMessages` webhook messages per user per rolling `windowSeconds`, per workspace. */
export interface FrequencyCap {
  maxMessages: number;
  windowSeconds: number;
}

/** A user's place in an action-based campaign or Canvas. */
export interface Entry {
  /** The membership event that entered the user (its `event_id`). */
  stamp: string;
  orderStamp: string;
  enteredAt: string;
  /** The last step's due time plus a grace: until then the user is in the journey. */
  endsAt: string;
  state: 'active' | 'exited';
  /** When a next entry is allowed (re-eligibility): the end of time for "never". */
  reeligibleAt: string;
  /** An event-triggered entry: its event's `time` (an exit event earlier than this does not end it). */
  eventTime?: string;
  /** Set on an exit: `event` when an exit event ended the entry (absent: the user left the segment). */
  exitedBy?: 'event';
}

/** One of a run's 16 braze_id ranges: where it has got to. */
export interface RunRange {
  range: number;
  after?: string;
  end?: string;
  chunks: number;
  targeted: number;
  done: boolean;
}

export interface DueRun {
  workspaceId: string;
  campaignId: string;
  scheduledAt: string;
  /** Its ranges are written (beginRun); what is left is queueing them and the next occurrence. */
  started?: boolean;
}

export interface Timer {
  timerId: string;
  dueAt: string;
  message: SendMessage;
}

export type SendOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'failed'; status: number; reason: string; sent: boolean }
  | { kind: 'skipped'; reason: SkipReason; detail?: string };

export type Claim =
  | { state: 'claimed'; attempt: number }
  | { state: 'done' }
  | { state: 'busy'; retryInMs: number }
  | { state: 'abandoned'; attempt: number };

/** A claimed message's outcome, to record. */
export interface FinishedSend {
  message: SendMessage;
  attempt: number;
  outcome: SendOutcome;
}

/** How many claims the sender hands the store at once (the store makes them one TransactWriteItems: AWS's 100 actions). */
export const CLAIMS_PER_CALL = 100;

export interface CampaignStore {
  create(campaign: Campaign): Promise<void>;
  get(workspaceId: string, campaignId: string): Promise<Campaign | undefined>;
  /**
   * One page of a workspace's campaigns or Canvases in id order (or reverse), after `after`,
   * optionally only those targeting a segment and those matching a search (name, or id prefix):
   * at most `limit`, from a bounded number of reads (so it may be short); `next` is where the
   * next page starts, absent at the end.
   */
  listPage(
    workspaceId: string,
    kind: CampaignKind,
    page: { limit: number; after?: string; segmentId?: string; search?: string; order?: 'asc' | 'desc' },
  ): Promise<{ campaigns: Campaign[]; next?: string }>;
  /**
   * Writes the whole campaign if its status is one of `from` and its revision the one read;
   * with `due`, its next run in the same transaction (a launch is active with a run, or neither).
   */
  replace(campaign: Campaign, from: readonly CampaignStatus[], options?: { due?: DueRun }): Promise<boolean>;

  putTriggers(workspaceId: string, campaignId: string, cohorts: { partner: string; cohortId: string }[]): Promise<void>;
  deleteTriggers(
    workspaceId: string,
    campaignId: string,
    cohorts: { partner: string; cohortId: string }[],
  ): Promise<void>;
  triggersOf(workspaceId: string, partner: string, cohortId: string): Promise<string[]>;

  deleteDue(run: DueRun): Promise<void>;
  dueRuns(now: Date, limit?: number): Promise<DueRun[]>;
  /** Writes a due run's ranges and marks it started, once; false if begun already or no longer due. */
  beginRun(run: DueRun, runId: string, ranges: RunRange[]): Promise<boolean>;
  /** Consumes the due item and writes the next occurrence; false if another tick did. */
  completeRun(run: DueRun, next: DueRun | undefined, now: Date): Promise<boolean>;
  getRange(workspaceId: string, campaignId: string, runId: string, range: number): Promise<RunRange | undefined>;
  advanceRange(
    workspaceId: string,
    campaignId: string,
    runId: string,
    range: RunRange,
    next: { after?: string; done: boolean; targeted: number },
  ): Promise<boolean>;

  /** A trigger call's `Idempotency-Key` recorded with its body's fingerprint: `new`, `same` (a replay) or `different`. */
  claimDispatch(
    workspaceId: string,
    campaignId: string,
    dispatchId: string,
    fingerprint: string,
    now: Date,
  ): Promise<'new' | 'same' | 'different'>;
  /** A broadcast's ranges (a run with no due item), written once: false if they exist already. */
  beginBroadcast(workspaceId: string, campaignId: string, runId: string, ranges: RunRange[]): Promise<boolean>;

  enter(
    workspaceId: string,
    campaignId: string,
    brazeId: string,
    entry: Entry,
    steps: number,
    now: Date,
  ): Promise<'entered' | 'again' | 'not_eligible'>;
  getEntry(workspaceId: string, campaignId: string, brazeId: string): Promise<Entry | undefined>;
  exit(
    workspaceId: string,
    campaignId: string,
    brazeId: string,
    stamp: string,
    now: Date,
    by?: 'event',
  ): Promise<boolean>;

  putTimers(timers: readonly Timer[]): Promise<void>;
  dueTimers(shard: number, until: Date, limit: number): Promise<Timer[]>;
  deleteTimers(timers: readonly Timer[]): Promise<void>;

  /** Claims messages with distinct send records, many per call (the sender's batch): one Claim each, in order. */
  claimSends(messages: readonly SendMessage[], now: Date, leaseMs: number): Promise<Claim[]>;
  claimSend(message: SendMessage, now: Date, leaseMs: number): Promise<Claim>;
  markRetrying(message: SendMessage, attempt: number, reason: string, now: Date): Promise<void>;
  /** Gives an unused claim back (nothing was sent): the next claim is the same attempt. */
  releaseSend(message: SendMessage, attempt: number, now: Date): Promise<void>;
  /** Records outcomes with their counters, many per call; false for a message another delivery took over. */
  finishSends(sends: readonly FinishedSend[], now: Date): Promise<boolean[]>;
  finishSend(message: SendMessage, attempt: number, outcome: SendOutcome, now: Date): Promise<boolean>;

  /**
   * Reserves send slots for messages due at `dues` (ms) under a rate limit of `perMinute`
   * (lib/campaigns/pacing.ts): the slots, in the order of `dues`. Concurrent reservations never
   * share a slot (the pacer's next free instant is written conditioned on the one read).
   */
  reserveSlots(workspaceId: string, campaignId: string, dues: readonly number[], perMinute: number): Promise<number[]>;
  /** The campaign's next free slot (ms), if its pacer was ever used. */
  pacerNext(workspaceId: string, campaignId: string): Promise<number | undefined>;

  getFrequencyCap(workspaceId: string): Promise<FrequencyCap | undefined>;
  setFrequencyCap(workspaceId: string, cap: FrequencyCap | null): Promise<void>;
  admit(workspaceId: string, brazeId: string, key: string, cap: FrequencyCap, now: Date): Promise<boolean>;

  stats(workspaceId: string, campaignId: string, steps: number): Promise<StepStats[]>;
}

/**
 * Which launched campaigns and Canvases a tracked event concerns (it enters users, or ends their
 * journeys), by workspace and event key (`eventKeyOf`): written at launch, deleted at stop.
 */
export interface EventTriggerIndex {
  put(workspaceId: string, campaignId: string, eventKeys: readonly string[]): Promise<void>;
  delete(workspaceId: string, campaignId: string, eventKeys: readonly string[]): Promise<void>;
  campaignsOn(workspaceId: string, eventKey: string): Promise<string[]>;
}

/** A user's memberships in some cohorts, read strongly consistent: keys from `membershipKey`. */
export interface MembershipChecks {
  memberOf(
    workspaceId: string,
    brazeId: string,
    cohorts: readonly { partner: string; cohortId: string }[],
  ): Promise<Set<string>>;
}

/** Timer shards: the store spreads timers over this many partition keys. */
export const TIMER_SHARDS = 32;

export interface SendQueue {
  send(messages: readonly { message: SendMessage; delaySeconds?: number }[]): Promise<void>;
}
export interface WorkQueue {
  send(messages: readonly WorkMessage[], delaySeconds?: number): Promise<void>;
}

/**
 * What puts messages on the sends queue (docs/campaigns.md):
 * - membership events: a user who entered an action-based campaign's or a Canvas's target
 *   is entered (once per entry, re-eligibility permitting) and its steps scheduled; a user
 *   who left it has the active entry ended;
 * - the minute tick: scheduled runs that are due start (16 ranges of the audience), and
 *   timer shards with something due are queued for draining;
 * - an audience chunk: the next users of a run's range, read at send time;
 * - a timer drain: due timers of one shard released to the sends queue.
 * Time is a port (`clock`), so tests move it instead of waiting.
 */
import type { MembershipEvent } from '../cohorts/events.js';
import {
  TIMER_SHARDS,
  type CampaignStore,
  type DueRun,
  type MembershipChecks,
  type RunRange,
  type SendQueue,
  type Timer,
  type WorkQueue,
} from './ports.js';
import { takeWithin } from '../segments/evaluate.js';
import { MAX_FILTER_COHORTS } from '../segments/filter.js';
import { memberSource, type SegmentPorts } from '../segments/service.js';
import { cohortsOf, transition, ttlCache } from './audience.js';
import { sendKey, type SendMessage, type WorkMessage } from './messages.js';
import { JOURNEY_GRACE_MS, reeligibleAfterMs, stepDueTimes, type Campaign } from './model.js';
import { instantKey, LAST_KEY_INSTANT_MS } from './instants.js';
import { nextOccurrence } from './schedule.js';
import { pacedChunkUsers } from './pacing.js';

export interface JourneyPorts {
  campaigns: Pick<
    CampaignStore,
    | 'get'
    | 'triggersOf'
    | 'enter'
    | 'getEntry'
    | 'exit'
    | 'putTimers'
    | 'dueTimers'
    | 'deleteTimers'
    | 'dueRuns'
    | 'deleteDue'
    | 'beginRun'
    | 'completeRun'
    | 'getRange'
    | 'advanceRange'
    | 'reserveSlots'
    | 'pacerNext'
  >;
  memberships: MembershipChecks;
  segmentSources: Pick<SegmentPorts, 'memberships' | 'users'>;
  sends: SendQueue;
  work: WorkQueue;
  clock: () => Date;
  /** Steps due within this go straight to the sends queue with a delay; later ones become timers (default 5 min; ≤ SQS's 15). */
  horizonMs?: number;
  /** How long definitions and triggers are reused (default 10 s; tests 0). */
  cacheTtlMs?: number;
}

export const DEFAULT_HORIZON_MS = 5 * 60_000;
/** SQS: DelaySeconds is at most 900. */
const MAX_DELAY_SECONDS = 900;
/** "Never re-eligible": the last instant a key can order, so it compares after every real one. */
const FOREVER = instantKey(LAST_KEY_INSTANT_MS);

/** When an entry allows the next one: never (`null`), or N days after it. */
export const reeligibleAt = (enteredAt: number, afterMs: number | null): string =>
  afterMs === null ? FOREVER : new Date(enteredAt + afterMs).toISOString();
/** Users per audience chunk; a chunk also stops when out of time. */
const CHUNK_USERS = 5_000;
const STEP_USERS = 1_000;
const STEP_READS = 20_000;
const DRAIN_PAGE = 100;

/** Sixteen ranges of braze_id by first hex digit, as the size jobs use: each resumable on its own, run in parallel. */
const HEX = [...'0123456789abcdef'];
export const runRanges = (): RunRange[] =>
  HEX.map((digit, index) => ({
    range: index,
    // Strictly after "3" is every id starting with 3 (ids are 24 hex digits, never one).
    ...(index > 0 ? { after: digit } : {}),
    ...(index < HEX.length - 1 ? { end: HEX[index + 1] } : {}),
    chunks: 0,
    targeted: 0,
    done: false,
  }));

export const runIdOf = (scheduledAt: string) => `R${scheduledAt}`;

/** The first chunk of each range of a run: the messages that start reading its audience. */
export const audienceMessages = (
  campaign: { workspaceId: string; campaignId: string },
  runId: string,
  ranges: readonly RunRange[],
  properties?: Record<string, unknown>,
): Extract<WorkMessage, { type: 'campaign.audience' }>[] =>
  ranges.map((range) => ({
    v: 1,
    type: 'campaign.audience',
    workspaceId: campaign.workspaceId,
    campaignId: campaign.campaignId,
    runId,
    range: range.range,
    chunk: 0,
    ...(properties ? { properties } : {}),
  }));

/** Send messages for due steps: within the horizon with a delay (≤ 900 s), later as timers. */
const route = async (messages: SendMessage[], ports: JourneyPorts, horizonMs: number): Promise<void> => {
  const now = ports.clock().getTime();
  const horizon = Math.min(horizonMs, MAX_DELAY_SECONDS * 1000);
  const soon: { message: SendMessage; delaySeconds: number }[] = [];
  const later: Timer[] = [];
  for (const message of messages) {
    const wait = Date.parse(message.dueAt) - now;
    if (wait <= horizon) soon.push({ message, delaySeconds: Math.max(0, Math.ceil(wait / 1000)) });
    else later.push({ timerId: sendKey(message), dueAt: message.dueAt, message });
  }
  if (soon.length > 0) await ports.sends.send(soon);
  if (later.length > 0) await ports.campaigns.putTimers(later);
};

export const createJourneys = (ports: JourneyPorts) => {
  const definitions = ttlCache<Campaign | undefined>(ports.cacheTtlMs ?? 10_000);
  const triggers = ttlCache<string[]>(ports.cacheTtlMs ?? 10_000);
  const campaignOf = (workspaceId: string, campaignId: string) =>
    definitions(`${workspaceId}\u0000${campaignId}`, () => ports.campaigns.get(workspaceId, campaignId));

  /**
   * Gives the messages of rate-limited campaigns that are due within the horizon, and not
   * paced yet, a slot each (lib/campaigns/pacing.ts): their `dueAt` becomes the slot. A slot
   * is never before now, so messages released late (a timer drained late) do not burst.
   */
  const pace = async (messages: SendMessage[], horizonMs: number): Promise<SendMessage[]> => {
    const now = ports.clock().getTime();
    const byCampaign = new Map<string, number[]>();
    messages.forEach((message, index) => {
      if (message.paced || Date.parse(message.dueAt) - now > horizonMs) return;
      const key = `${message.workspaceId}\u0000${message.campaignId}`;
      byCampaign.set(key, [...(byCampaign.get(key) ?? []), index]);
    });
    const paced = [...messages];
    for (const indexes of byCampaign.values()) {
      const { workspaceId, campaignId } = messages[indexes[0]!]!;
      const perMinute = (await campaignOf(workspaceId, campaignId))?.rateLimitPerMinute;
      if (perMinute === undefined) continue;
      const dues = indexes.map((index) => Math.max(now, Date.parse(messages[index]!.dueAt)));
      const slots = await ports.campaigns.reserveSlots(workspaceId, campaignId, dues, perMinute);
      indexes.forEach((index, position) => {
        paced[index] = { ...messages[index]!, dueAt: new Date(Math.ceil(slots[position]!)).toISOString(), paced: true };
      });
    }
    return paced;
  };

  /** Paces what is due soon, then sends it within the horizon or keeps it as timers. */
  const release = async (messages: SendMessage[], horizonMs = ports.horizonMs ?? DEFAULT_HORIZON_MS) =>
    route(await pace(messages, horizonMs), ports, horizonMs);

  /** One membership event: entries and exits of every action-based campaign and Canvas on its cohort. */
  const onMembershipEvent = async (event: MembershipEvent): Promise<{ entered: number; exited: number }> => {
    const counts = { entered: 0, exited: 0 };
    const campaignIds = await triggers(JSON.stringify([event.workspace_id, event.partner, event.cohort_id]), () =>
      ports.campaigns.triggersOf(event.workspace_id, event.partner, event.cohort_id),
    );
    for (const campaignId of campaignIds) {
      const campaign = await campaignOf(event.workspace_id, campaignId);
      if (campaign?.status !== 'active' || !campaign.filter || campaign.delivery.type !== 'action_based') continue;
      const brazeId = event.user.braze_id;
      const memberships = await ports.memberships.memberOf(event.workspace_id, brazeId, cohortsOf(campaign.filter));
      const { entered, inNow } = transition(campaign.filter, memberships, {
        partner: event.partner,
        cohortId: event.cohort_id,
        added: event.type === 'cohort.membership.added',
      });
      const now = ports.clock();
      if (!inNow) {
        const entry = await ports.campaigns.getEntry(event.workspace_id, campaignId, brazeId);
        if (
          entry?.state === 'active' &&
          (await ports.campaigns.exit(event.workspace_id, campaignId, brazeId, entry.stamp, now))
        )
          counts.exited += 1;
        continue;
      }
      // An event-triggered one is entered by its event (lib/campaigns/event-entries.ts), and left here as any.
      if (!entered || campaign.delivery.trigger) continue;
      // A change applied before the launch is no entry, however late its event comes (a restart
      // reading the stream from its start, a redriven dead letter): the user was in the target
      // at launch, and an action-based campaign is for users who enter it afterwards.
      if (campaign.entersSince !== undefined && event.occurred_at < campaign.entersSince) continue;
      // The entry is the event (its id is the stamp): a duplicate finds it and re-schedules
      // the same steps at the same times (the entry's own), under the same ids.
      const enteredAt = now.getTime();
      const outcome = await ports.campaigns.enter(
        event.workspace_id,
        campaignId,
        brazeId,
        {
          stamp: event.event_id,
          orderStamp: event.order_stamp,
          enteredAt: now.toISOString(),
          endsAt: new Date(stepDueTimes(campaign, enteredAt).at(-1)! + JOURNEY_GRACE_MS).toISOString(),
          state: 'active',
          reeligibleAt: reeligibleAt(enteredAt, reeligibleAfterMs(campaign.delivery)),
        },
        campaign.steps.length,
        now,
      );
      if (outcome === 'not_eligible') continue;
      if (outcome === 'entered') counts.entered += 1;
      const entry =
        outcome === 'again' ? await ports.campaigns.getEntry(event.workspace_id, campaignId, brazeId) : undefined;
      if (outcome === 'again' && (entry?.stamp !== event.event_id || entry.state !== 'active')) continue;
      const dueTimes = stepDueTimes(campaign, entry ? Date.parse(entry.enteredAt) : enteredAt);
      await release(
        dueTimes.map((dueAt, step) => ({
          v: 1,
          workspaceId: event.workspace_id,
          campaignId,
          step,
          brazeId,
          entry: event.event_id,
          kind: 'entry',
          dueAt: new Date(dueAt).toISOString(),
          cohort: { partner: event.partner, cohort_id: event.cohort_id, name: event.cohort_name },
        })),
      );
    }
    return counts;
  };

  /**
   * Starts one due run in three steps, each safe to repeat: write its 16 ranges and mark
   * the due item started (once), queue the ranges' first chunks, consume the due item and
   * write the next occurrence. A tick that dies midway leaves the due item started, and the
   * next tick queues the chunks again (a duplicate chunk advances nothing) and finishes.
   */
  const startRun = async (run: DueRun): Promise<boolean> => {
    const campaign = await ports.campaigns.get(run.workspaceId, run.campaignId);
    if (campaign?.status !== 'active' || campaign.delivery.type !== 'scheduled') {
      await ports.campaigns.deleteDue(run);
      return false;
    }
    const runId = runIdOf(run.scheduledAt);
    const ranges = runRanges();
    if (!run.started && !(await ports.campaigns.beginRun(run, runId, ranges))) return false;
    await ports.work.send(audienceMessages(run, runId, ranges));
    const recurring = campaign.delivery.recurring;
    const nextAt = recurring
      ? nextOccurrence(recurring, Math.max(Date.parse(run.scheduledAt), ports.clock().getTime()))
      : undefined;
    // A next occurrence is strictly later than this run and one a key can order (instants.ts): never a run due
    // again at once. Past the last such instant a recurring campaign simply has no next run.
    const next =
      nextAt !== undefined && nextAt > Date.parse(run.scheduledAt) && nextAt <= LAST_KEY_INSTANT_MS
        ? { workspaceId: run.workspaceId, campaignId: run.campaignId, scheduledAt: instantKey(nextAt) }
        : undefined;
    return ports.campaigns.completeRun(run, next, ports.clock());
  };

  /** The minute tick: due runs started, and a drain queued for each timer shard with something due. */
  const tick = async (): Promise<{ runsStarted: number; timerShards: number }> => {
    const now = ports.clock();
    let runsStarted = 0;
    for (const run of await ports.campaigns.dueRuns(now)) if (await startRun(run)) runsStarted += 1;
    const until = new Date(now.getTime() + (ports.horizonMs ?? DEFAULT_HORIZON_MS));
    const shards: number[] = [];
    await Promise.all(
      Array.from({ length: TIMER_SHARDS }, async (_, shard) => {
        if ((await ports.campaigns.dueTimers(shard, until, 1)).length > 0) shards.push(shard);
      }),
    );
    if (shards.length > 0)
      await ports.work.send(shards.map((shard) => ({ v: 1, type: 'campaign.timers', shard }) satisfies WorkMessage));
    return { runsStarted, timerShards: shards.length };
  };

  /** Releases a timer shard's due timers to the sends queue, then deletes them; queues itself again if out of time. */
  const drainTimers = async (shard: number, outOfTime: () => boolean): Promise<number> => {
    let released = 0;
    for (;;) {
      const until = new Date(ports.clock().getTime() + (ports.horizonMs ?? DEFAULT_HORIZON_MS));
      const timers = await ports.campaigns.dueTimers(shard, until, DRAIN_PAGE);
      if (timers.length === 0) return released;
      // Sent before deleted: a crash between the two sends them again, and the sender drops the copies.
      await release(
        timers.map((timer) => timer.message),
        Math.max(ports.horizonMs ?? DEFAULT_HORIZON_MS, until.getTime() - ports.clock().getTime()),
      );
      await ports.campaigns.deleteTimers(timers);
      released += timers.length;
      if (outOfTime()) {
        await ports.work.send([{ v: 1, type: 'campaign.timers', shard }]);
        return released;
      }
    }
  };

  /** The next users of a run's range: one send message each (with the profile), the range advanced once. */
  const runAudienceChunk = async (
    message: Extract<WorkMessage, { type: 'campaign.audience' }>,
    outOfTime: () => boolean,
  ): Promise<{ users: number; done: boolean } | undefined> => {
    const { workspaceId, campaignId, runId } = message;
    const range = await ports.campaigns.getRange(workspaceId, campaignId, runId, message.range);
    if (!range || range.done) return undefined;
    if (range.chunks !== message.chunk) {
      // An older chunk's copy: the range went on without it. If the message for where it stands
      // was never queued (the worker died between advancing and queueing), this queues it; a
      // copy too many advances nothing.
      if (range.chunks > message.chunk) await ports.work.send([{ ...message, chunk: range.chunks }]);
      return undefined;
    }
    const campaign = await ports.campaigns.get(workspaceId, campaignId);
    if (campaign?.status !== 'active' || !campaign.filter) {
      await ports.campaigns.advanceRange(workspaceId, campaignId, runId, range, { done: true, targeted: 0 });
      return { users: 0, done: true };
    }
    // Under a send-rate limit the audience is read about as fast as it is sent: while the
    // pacer's slots reach past the horizon, the chunk waits (a delayed copy of itself).
    const horizonMs = ports.horizonMs ?? DEFAULT_HORIZON_MS;
    const perMinute = campaign.rateLimitPerMinute;
    if (perMinute !== undefined) {
      const ahead = ((await ports.campaigns.pacerNext(workspaceId, campaignId)) ?? 0) - ports.clock().getTime();
      if (ahead > horizonMs) {
        await ports.work.send([message], Math.min(MAX_DELAY_SECONDS, Math.ceil((ahead - horizonMs) / 1000)));
        return { users: 0, done: false };
      }
    }
    const chunkUsers = perMinute === undefined ? CHUNK_USERS : pacedChunkUsers(perMinute, horizonMs, CHUNK_USERS);
    const source = memberSource(workspaceId, ports.segmentSources);
    let after = range.after;
    let more = true;
    const users: string[] = [];
    while (more && users.length < chunkUsers && !(users.length > 0 && outOfTime())) {
      const step = await takeWithin(campaign.filter, source, {
        ...(after !== undefined ? { after } : {}),
        ...(range.end !== undefined ? { end: range.end } : {}),
        limit: Math.min(STEP_USERS, chunkUsers - users.length),
        readBudget: Math.max(2 * MAX_FILTER_COHORTS + 1, STEP_READS),
      });
      users.push(...step.values);
      more = step.more;
      if (step.resumeAfter !== undefined) after = step.resumeAfter;
      else if (step.values.length > 0) after = step.values.at(-1);
    }
    const profiles = await ports.segmentSources.users.getProfiles(workspaceId, users);
    const dueAt = ports.clock().toISOString();
    await release(
      profiles.map(
        (profile): SendMessage => ({
          v: 1,
          workspaceId,
          campaignId,
          step: 0,
          brazeId: profile.brazeId,
          entry: runId,
          kind: 'run',
          dueAt,
          ...(message.properties ? { properties: message.properties } : {}),
          profile: {
            ...(profile.externalId !== undefined ? { external_id: profile.externalId } : {}),
            user_aliases: profile.aliases.map((alias) => ({
              alias_name: alias.alias_name,
              alias_label: alias.alias_label,
            })),
            device_ids: profile.deviceIds,
            custom_attributes: profile.customAttributes,
          },
        }),
      ),
    );
    const advanced = await ports.campaigns.advanceRange(workspaceId, campaignId, runId, range, {
      ...(after !== undefined ? { after } : {}),
      done: !more,
      targeted: profiles.length,
    });
    if (advanced && more) await ports.work.send([{ ...message, chunk: message.chunk + 1 }]);
    return { users: profiles.length, done: !more };
  };

  return { onMembershipEvent, tick, drainTimers, runAudienceChunk, startRun, release };
};

export type Journeys = ReturnType<typeof createJourneys>;

/**
 * The sync: one queued request at a time, matched and applied. Everything it writes is
 * keyed by the request's order stamp, so running it twice (SQS redelivery, a retry after
 * a crash mid-batch, a DLQ redrive) leaves the same state and the same report.
 */
import { changeOrderKey, type CohortMessage, type CohortRef } from './messages.js';
import { identifiersToLookUp, matchChanges, type UserDirectory } from './matching.js';
import type { AppliedChange, MembershipStore, SyncReport, UserIdentifiers } from './ports.js';
import { membershipEventId, type MembershipEvent, type MembershipEventPublisher } from './events.js';

export interface SyncPorts {
  directory: UserDirectory;
  memberships: MembershipStore;
  /** Where membership events go, and where the users' identifiers for them come from. */
  events?: { publisher: MembershipEventPublisher; profiles: { getProfiles(workspaceId: string, brazeIds: readonly string[]): Promise<UserIdentifiers[]> } };
  clock?: () => Date;
}

export type SyncResult = { type: 'cohort.named' } | { type: 'cohort.changed'; report: SyncReport; firstTime: boolean };

export const syncCohortMessage = async (message: CohortMessage, ports: SyncPorts): Promise<SyncResult> => {
  const now = (ports.clock ?? (() => new Date()))();
  const cohort: CohortRef = { workspaceId: message.workspaceId, partner: message.partner, cohortId: message.cohortId };
  if (message.type === 'cohort.named') {
    await ports.memberships.nameCohort(cohort, message.name, message.createdAt, changeOrderKey(message.stamp, 0), now);
    return { type: 'cohort.named' };
  }
  const directory = await ports.directory.lookup(message.workspaceId, identifiersToLookUp(message));
  const matched = matchChanges(message, directory);
  const { changes, ...applied } = await ports.memberships.applyMemberships(cohort, matched.desired, now);
  // Events go out after the writes and before the report: if publishing fails, the
  // record is retried, finds its changes already applied (same stamps) and publishes
  // them again. Once the report exists, a redelivery has nothing left to publish.
  if (ports.events && changes.length > 0 && !(await ports.memberships.hasSyncReport(cohort, message.stamp))) {
    await publishMembershipEvents(cohort, changes, now, ports.events, ports.memberships);
  }
  const report: SyncReport = {
    requestId: message.stamp.requestId,
    acceptedAt: message.stamp.acceptedAt,
    processedAt: now.toISOString(),
    received: matched.received,
    matched: matched.matched,
    unmatched: matched.unmatched,
    ...applied,
  };
  const { firstTime } = await ports.memberships.recordSyncReport(cohort, report);
  return { type: 'cohort.changed', report, firstTime };
};

const publishMembershipEvents = async (
  cohort: CohortRef,
  changes: readonly AppliedChange[],
  now: Date,
  events: NonNullable<SyncPorts['events']>,
  memberships: MembershipStore,
): Promise<void> => {
  const [profiles, meta] = await Promise.all([
    events.profiles.getProfiles(cohort.workspaceId, changes.map((change) => change.brazeId)),
    memberships.getCohort(cohort),
  ]);
  const byId = new Map(profiles.map((profile) => [profile.brazeId, profile]));
  const toEvent = (change: AppliedChange): MembershipEvent => {
    const profile = byId.get(change.brazeId);
    return {
      event_id: membershipEventId(cohort, change.brazeId, change.orderKey),
      type: change.effect === 'added' ? 'cohort.membership.added' : 'cohort.membership.removed',
      workspace_id: cohort.workspaceId,
      partner: cohort.partner,
      cohort_id: cohort.cohortId,
      cohort_name: meta?.name ?? cohort.cohortId,
      user: {
        braze_id: change.brazeId,
        ...(profile?.externalId !== undefined ? { external_id: profile.externalId } : {}),
        user_aliases: (profile?.aliases ?? []).map((alias) => ({ alias_name: alias.alias_name, alias_label: alias.alias_label })),
        device_ids: profile?.deviceIds ?? [],
      },
      order_stamp: change.orderKey,
      occurred_at: now.toISOString(),
    };
  };
  await events.publisher.publish(changes.map(toEvent));
};

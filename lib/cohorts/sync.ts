/**
 * The sync: one queued request at a time, matched and applied. Everything it writes is
 * keyed by the request's order stamp, so running it twice (SQS redelivery, a retry after
 * a crash mid-batch, a DLQ redrive) leaves the same state and the same report. Membership
 * events are not the sync's: each flip it writes reaches the events function through the
 * table's stream (functions/events), so no failure here can lose one.
 */
import { changeOrderKey, type CohortMessage, type CohortRef } from './messages.js';
import { identifiersToLookUp, matchChanges, type UserDirectory } from './matching.js';
import type { Cancellable, MembershipStore, SyncReport } from './ports.js';

export interface SyncPorts {
  directory: UserDirectory;
  memberships: MembershipStore;
  clock?: () => Date;
}

export type SyncResult = { type: 'cohort.named' } | { type: 'cohort.changed'; report: SyncReport; firstTime: boolean };

/** With a `signal`, the work stops at its next step once the signal aborts (the request is retried as a whole). */
export const syncCohortMessage = async (
  message: CohortMessage,
  ports: SyncPorts,
  { signal }: Cancellable = {},
): Promise<SyncResult> => {
  const now = (ports.clock ?? (() => new Date()))();
  const cohort: CohortRef = { workspaceId: message.workspaceId, partner: message.partner, cohortId: message.cohortId };
  if (message.type === 'cohort.named') {
    await ports.memberships.nameCohort(
      cohort,
      {
        name: message.name,
        createdAt: message.createdAt,
        orderKey: changeOrderKey(message.stamp, 0),
        acceptedAt: message.stamp.acceptedAt,
      },
      now,
    );
    return { type: 'cohort.named' };
  }
  const directory = await ports.directory.lookup(message.workspaceId, identifiersToLookUp(message), { signal });
  signal?.throwIfAborted();
  const matched = matchChanges(message, directory);
  const applied = await ports.memberships.applyMemberships(cohort, matched.desired, now, { signal });
  signal?.throwIfAborted();
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

/**
 * Membership events: every membership change actually applied (not the no-ops) becomes
 * `cohort.membership.added` or `cohort.membership.removed`, for canvases and other
 * consumers ("trigger a message when a user abandons the funnel"). Delivery is at least
 * once; `event_id` is deterministic (the same change always has the same id), so
 * consumers can drop duplicates.
 */
import { createHash } from 'node:crypto';
import type { CohortRef } from './messages.js';
import type { Cohort, UserIdentifiers } from './ports.js';

export type MembershipEventType = 'cohort.membership.added' | 'cohort.membership.removed';

export interface MembershipEvent {
  event_id: string;
  type: MembershipEventType;
  workspace_id: string;
  partner: string;
  cohort_id: string;
  cohort_name: string;
  user: {
    braze_id: string;
    external_id?: string;
    user_aliases: { alias_name: string; alias_label: string }[];
    device_ids: string[];
  };
  /** The change's place in the acceptance order (`<accepted at>#<request id>#<index>`). */
  order_stamp: string;
  occurred_at: string;
}

/** The port to wherever events go (SNS in AWS and on the local stack). Resolves once all are accepted. */
export interface MembershipEventPublisher {
  publish(events: readonly MembershipEvent[]): Promise<void>;
}

export const membershipEventId = (cohort: CohortRef, brazeId: string, orderStamp: string): string =>
  createHash('sha256')
    .update([cohort.workspaceId, cohort.partner, cohort.cohortId, brazeId, orderStamp].join('\u0000'))
    .digest('base64url')
    .slice(0, 32);

/**
 * A membership that flipped, as the register's change stream tells it. `cause` says who
 * flipped it: a partner's change (its order stamp names it), or identify-merge ending the
 * membership of a profile merged away (same stamp as the add it ends, so its event id
 * differs by the cause).
 */
export interface MembershipFlip {
  cohort: CohortRef;
  brazeId: string;
  effect: 'added' | 'removed';
  orderKey: string;
  cause: 'change' | 'merge';
  /** When the flip was applied (the register's updatedAt): the same on every redelivery. */
  appliedAt: string;
}

export interface EventSources {
  profiles: {
    getProfiles(
      workspaceId: string,
      brazeIds: readonly string[],
      options?: { consistentRead?: boolean },
    ): Promise<UserIdentifiers[]>;
  };
  cohorts: { getCohort(cohort: CohortRef): Promise<Cohort | undefined> };
  /**
   * Ends a membership written for a profile that no longer exists: a sync that matched an
   * anonymous profile just before identify merged it away, and wrote after the merge had
   * ended its memberships. Without it such orphans stay in the cohort and its count.
   */
  orphans?: { endMembership(cohort: CohortRef, brazeId: string, endedBy: 'orphan', now: Date): Promise<boolean> };
}

const cohortKey = (cohort: CohortRef) => JSON.stringify([cohort.workspaceId, cohort.partner, cohort.cohortId]);

/**
 * Adds for users whose profile is gone (read again, strongly consistent, to be sure) are
 * orphans of a merge: their membership is ended (count included) and no event goes out.
 */
const endOrphans = async (
  flips: readonly MembershipFlip[],
  profileOf: ReadonlyMap<string, UserIdentifiers>,
  sources: EventSources,
): Promise<Set<MembershipFlip>> => {
  const key = (flip: MembershipFlip) => `${flip.cohort.workspaceId}\u0000${flip.brazeId}`;
  const suspects = flips.filter((flip) => flip.effect === 'added' && !profileOf.has(key(flip)));
  if (!sources.orphans || suspects.length === 0) return new Set();
  const found = new Set<string>();
  for (const workspaceId of new Set(suspects.map((flip) => flip.cohort.workspaceId))) {
    const ids = suspects.filter((flip) => flip.cohort.workspaceId === workspaceId).map((flip) => flip.brazeId);
    for (const profile of await sources.profiles.getProfiles(workspaceId, ids, { consistentRead: true }))
      found.add(`${workspaceId}\u0000${profile.brazeId}`);
  }
  // Ended here: no event. Already ended by the merge itself (it lagged behind): the add
  // was real and its removal will be published, so the add is published too.
  const orphans = new Set<MembershipFlip>();
  for (const flip of suspects.filter((suspect) => !found.has(key(suspect)))) {
    if (await sources.orphans.endMembership(flip.cohort, flip.brazeId, 'orphan', new Date())) orphans.add(flip);
  }
  return orphans;
};

/**
 * The events of some flips, in the flips' order, with each user's identifiers (one
 * BatchGetItem per 100 users per workspace) and each cohort's name. Deterministic ids:
 * the same flip always gives the same `event_id`.
 */
export const membershipEvents = async (
  flips: readonly MembershipFlip[],
  sources: EventSources,
): Promise<MembershipEvent[]> => {
  const cohorts = new Map(flips.map((flip) => [cohortKey(flip.cohort), flip.cohort]));
  const workspaces = new Map<string, Set<string>>();
  for (const flip of flips)
    workspaces.set(flip.cohort.workspaceId, (workspaces.get(flip.cohort.workspaceId) ?? new Set()).add(flip.brazeId));
  const [names, profiles] = await Promise.all([
    Promise.all(
      [...cohorts.entries()].map(
        async ([key, cohort]) => [key, (await sources.cohorts.getCohort(cohort))?.name ?? cohort.cohortId] as const,
      ),
    ),
    Promise.all(
      [...workspaces.entries()].map(async ([workspaceId, brazeIds]) =>
        (await sources.profiles.getProfiles(workspaceId, [...brazeIds])).map(
          (profile) => [`${workspaceId}\u0000${profile.brazeId}`, profile] as const,
        ),
      ),
    ),
  ]);
  const nameOf = new Map(names);
  const profileOf = new Map(profiles.flat());
  const orphans = await endOrphans(flips, profileOf, sources);
  return flips
    .filter((flip) => !orphans.has(flip))
    .map((flip) => {
      const profile = profileOf.get(`${flip.cohort.workspaceId}\u0000${flip.brazeId}`);
      return {
        event_id: membershipEventId(
          flip.cohort,
          flip.brazeId,
          flip.cause === 'merge' ? `${flip.orderKey}#merged` : flip.orderKey,
        ),
        type: flip.effect === 'added' ? 'cohort.membership.added' : 'cohort.membership.removed',
        workspace_id: flip.cohort.workspaceId,
        partner: flip.cohort.partner,
        cohort_id: flip.cohort.cohortId,
        cohort_name: nameOf.get(cohortKey(flip.cohort)) ?? flip.cohort.cohortId,
        user: {
          braze_id: flip.brazeId,
          ...(profile?.externalId !== undefined ? { external_id: profile.externalId } : {}),
          user_aliases: (profile?.aliases ?? []).map((alias) => ({
            alias_name: alias.alias_name,
            alias_label: alias.alias_label,
          })),
          device_ids: profile?.deviceIds ?? [],
        },
        order_stamp: flip.orderKey,
        occurred_at: flip.appliedAt,
      };
    });
};

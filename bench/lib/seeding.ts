/**
 * Seeding straight into the tables, the way a finished sync leaves them (profiles with their
 * byWorkspace keys and the workspace's user count; registers under their shards, the cohort's
 * list item and one count lane), for the scenarios whose subject is what comes after the sync.
 */
import {
  cohortKey,
  cohortListKey,
  cohortSortKey,
  laneSortKey,
  memberSortKey,
  registerKey,
} from '../../lib/dynamodb/membership-store.js';
import { REGISTER_SHARDS, registerShardOf } from '../../lib/dynamodb/shards.js';
import { profileKey, USER_COUNT_LANES, userCountKey, workspaceIndexKeys } from '../../lib/dynamodb/user-store.js';
import type { CohortRef } from '../../lib/cohorts/messages.js';

/** Profiles `<externalIdPrefix><i>` for the given braze_ids, then the user count spread over its lanes. */
export function* seededProfiles(
  workspaceId: string,
  brazeIds: readonly string[],
  externalIdPrefix: string,
  at: string,
) {
  for (const [i, brazeId] of brazeIds.entries()) {
    yield {
      pk: profileKey(workspaceId, brazeId),
      ...workspaceIndexKeys(workspaceId, brazeId),
      brazeId,
      workspaceId,
      externalId: `${externalIdPrefix}${i}`,
      aliases: [],
      deviceIds: [],
      customAttributes: {},
      createdAt: at,
      updatedAt: at,
    };
  }
  for (let lane = 0; lane < USER_COUNT_LANES; lane += 1) {
    const share = Math.floor(brazeIds.length / USER_COUNT_LANES) + (lane < brazeIds.length % USER_COUNT_LANES ? 1 : 0);
    yield { pk: userCountKey(workspaceId, lane), users: share, lastCreatedAt: at };
  }
}

/** One cohort holding `members`: its registers, its list item, and its count in one lane. */
export function* seededCohort(cohort: CohortRef, name: string, members: Iterable<string>, at: string) {
  let count = 0;
  for (const brazeId of members) {
    count += 1;
    yield {
      pk: registerKey(cohort, registerShardOf(brazeId, REGISTER_SHARDS)),
      sk: memberSortKey(brazeId),
      brazeId,
      member: true,
      orderKey: '0',
      effect: 'added',
      updatedAt: at,
    };
  }
  yield {
    pk: cohortListKey(cohort.workspaceId),
    sk: cohortSortKey(cohort),
    partner: cohort.partner,
    cohortId: cohort.cohortId,
    name,
    firstSeenAt: at,
    lastSyncedAt: at,
    registerShards: REGISTER_SHARDS,
  };
  yield { pk: cohortKey(cohort), sk: laneSortKey(0), members: count };
}

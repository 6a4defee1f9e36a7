/**
 * The cohorts table's keys (the layout: lib/dynamodb/membership-store.ts's header and
 * docs/architecture.md, "Data model"), in one place for every store that reads or writes it.
 */
import type { CohortRef } from '../cohorts/messages.js';
import { registerShardOf } from './shards.js';

export const cohortListKey = (workspaceId: string) => `${workspaceId}#COHORTS`;
export const cohortSortKey = (cohort: CohortRef) => `${cohort.partner}#${cohort.cohortId}`;
export const cohortKey = (cohort: CohortRef) => `${cohort.workspaceId}#C#${cohort.partner}#${cohort.cohortId}`;
export const registerKey = (cohort: CohortRef, shard: number) =>
  `${cohort.workspaceId}#M${String(shard).padStart(2, '0')}#${cohort.partner}#${cohort.cohortId}`;
export const memberSortKey = (brazeId: string) => `M#${brazeId}`;
/** A register's key in a cohort of `shards` register shards (register-layout.ts). */
export const registerItemKey = (cohort: CohortRef, brazeId: string, shards: number) => ({
  pk: registerKey(cohort, registerShardOf(brazeId, shards)),
  sk: memberSortKey(brazeId),
});
export const laneSortKey = (lane: number) => `N#${String(lane).padStart(2, '0')}`;

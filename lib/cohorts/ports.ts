/**
 * The ports the cohort sync is written against; lib/dynamodb implements them, tests may
 * hand in plain in-memory ones.
 */
import type { CohortRef } from './messages.js';
import type { DesiredMembership } from './matching.js';

export interface Cohort {
  partner: string;
  cohortId: string;
  name: string;
  memberCount: number;
  /** The partner's `created_at` of the cohort's first name request (renames send one too; it is not kept). */
  createdAt?: string;
  /** When the name shown was accepted, if it is a rename (absent while the cohort has its first name). */
  renamedAt?: string;
  firstSeenAt: string;
  lastSyncedAt?: string;
}

export interface SyncReport {
  requestId: string;
  acceptedAt: string;
  processedAt: string;
  received: number;
  matched: number;
  unmatched: number;
  added: number;
  removed: number;
  alreadyInState: number;
  superseded: number;
}

/** A create-or-rename request, as the sync hands it to the store. */
export interface CohortNaming {
  name: string;
  /** The partner's `created_at`. */
  createdAt: string;
  /** The request's place in the acceptance order (lib/cohorts/messages.ts). */
  orderKey: string;
  acceptedAt: string;
}

export interface ApplyOutcome {
  added: number;
  removed: number;
  alreadyInState: number;
  superseded: number;
}

/**
 * Work that may be given up: when `signal` aborts (the function is about to time out and the
 * request is retried elsewhere), the work stops at its next call and its calls in flight are
 * cancelled, instead of going on beside its retry and loading the table twice.
 */
export interface Cancellable {
  signal?: AbortSignal;
}

/** Where memberships, cohorts and sync reports live. */
export interface MembershipStore {
  applyMemberships(
    cohort: CohortRef,
    desired: readonly DesiredMembership[],
    now: Date,
    options?: Cancellable,
  ): Promise<ApplyOutcome>;
  nameCohort(cohort: CohortRef, naming: CohortNaming, now: Date): Promise<void>;
  recordSyncReport(cohort: CohortRef, report: SyncReport): Promise<{ firstTime: boolean }>;
  hasSyncReport(cohort: CohortRef, stamp: { acceptedAt: string; requestId: string }): Promise<boolean>;
  getCohort(cohort: CohortRef): Promise<Cohort | undefined>;
}

/** A user's identifiers, for membership events. */
export interface UserIdentifiers {
  brazeId: string;
  externalId?: string;
  aliases: { alias_label: string; alias_name: string }[];
  deviceIds: string[];
}

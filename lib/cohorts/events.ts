/**
 * Membership events: every membership change actually applied (not the no-ops) becomes
 * `cohort.membership.added` or `cohort.membership.removed`, for canvases and other
 * consumers ("trigger a message when a user abandons the funnel"). Delivery is at least
 * once; `event_id` is deterministic (the same change always has the same id), so
 * consumers can drop duplicates.
 */
import { createHash } from 'node:crypto';
import type { CohortRef } from './messages.js';

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
  createHash('sha256').update([cohort.workspaceId, cohort.partner, cohort.cohortId, brazeId, orderStamp].join('\u0000')).digest('base64url').slice(0, 32);

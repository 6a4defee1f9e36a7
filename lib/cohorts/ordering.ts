/**
 * The ordering rule: a membership is a last-writer-wins register keyed by the order
 * stamp of the change that set it. Applying changes in any order, any number of times,
 * ends in the state of applying them once each in stamp order. Tombstones (member =
 * false) are kept so that an older add arriving after a newer removal changes nothing.
 */
export type MembershipEffect = 'added' | 'removed' | 'unchanged';

export interface MembershipState {
  member: boolean;
  /** Order key of the change that last wrote this membership. */
  orderKey: string;
  /** What that write did, so a redelivery of the same change reports the same effect. */
  effect: MembershipEffect;
}

export type MembershipDecision =
  /** A newer change already wrote this membership: ours is stale. */
  | { action: 'skip'; outcome: 'superseded' }
  /** This very change was applied before (a redelivery): report what it did then. */
  | { action: 'skip'; outcome: MembershipEffect }
  /** Same state, newer change: record the newer stamp so an older opposite change stays stale. */
  | { action: 'write'; outcome: 'unchanged'; next: MembershipState }
  | { action: 'write'; outcome: 'added' | 'removed'; next: MembershipState };

export const decideMembership = (
  current: MembershipState | undefined,
  desired: { member: boolean; orderKey: string },
): MembershipDecision => {
  if (current && current.orderKey > desired.orderKey) return { action: 'skip', outcome: 'superseded' };
  if (current && current.orderKey === desired.orderKey) return { action: 'skip', outcome: current.effect };
  const wasMember = current?.member ?? false;
  if (wasMember === desired.member) {
    return {
      action: 'write',
      outcome: 'unchanged',
      next: { member: desired.member, orderKey: desired.orderKey, effect: 'unchanged' },
    };
  }
  const outcome = desired.member ? 'added' : 'removed';
  return { action: 'write', outcome, next: { member: desired.member, orderKey: desired.orderKey, effect: outcome } };
};

/** How much a decision moves the cohort's member count. */
export const memberCountDelta = (decision: MembershipDecision): number =>
  decision.action === 'write' ? (decision.outcome === 'added' ? 1 : decision.outcome === 'removed' ? -1 : 0) : 0;

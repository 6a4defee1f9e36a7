/**
 * The cohorts table's stream, read as membership flips: a register write whose `member`
 * changed (or a new register that is a member) is a flip; everything else (tombstone
 * updates, counts, cohorts, reports) is not. Stream records of one item come in the order
 * the writes happened, so flips of one membership come in order too.
 */
import type { MembershipFlip } from '../cohorts/events.js';

/** A stream record with its images unmarshalled (Lambda's DynamoDB event, or the local poller). */
export interface RegisterStreamRecord {
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE' | string;
  keys: Record<string, unknown>;
  oldImage?: Record<string, unknown>;
  newImage?: Record<string, unknown>;
}

/** `<ws>#M<shard>#<partner>#<cohortId>`: workspace ids and partner names hold no `#`; a cohort id may. */
const REGISTER_KEY = /^([^#]+)#M\d{2}#([^#]+)#(.+)$/s;

/**
 * Whether a stream record's keys are a membership register's. The cohorts table holds other
 * items too (cohorts, counts, sync reports, Currents connectors and dead letters, segments):
 * their records are passed over before their images are read at all.
 */
export const isRegisterKey = (keys: Record<string, unknown>): boolean =>
  REGISTER_KEY.test(String(keys.pk ?? '')) && String(keys.sk ?? '').startsWith('M#');

export const membershipFlips = (records: readonly RegisterStreamRecord[]): MembershipFlip[] =>
  records.flatMap((record): MembershipFlip[] => {
    const key = REGISTER_KEY.exec(String(record.keys.pk ?? ''));
    const next = record.newImage;
    if (!key || !isRegisterKey(record.keys) || !next || record.eventName === 'REMOVE') return [];
    const wasMember = record.oldImage?.member === true;
    const isMember = next.member === true;
    // A membership written for a profile that no longer exists, ended by the events
    // function itself: its add was never published, so neither is this.
    if (wasMember === isMember || next.endedBy === 'orphan') return [];
    const orderKey = String(next.orderKey);
    return [
      {
        cohort: { workspaceId: key[1]!, partner: key[2]!, cohortId: key[3]! },
        brazeId: String(next.brazeId),
        effect: isMember ? 'added' : 'removed',
        orderKey,
        // A merge ends a membership without a partner's change: the stamp stays the add's.
        cause: next.endedBy === 'merge' ? 'merge' : 'change',
        appliedAt: String(next.updatedAt),
      },
    ];
  });

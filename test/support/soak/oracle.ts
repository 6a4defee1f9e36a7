/**
 * The soak's oracle: the accepted requests applied once each, in stamp order, to every
 * cohort of every workspace (members, each user's history of changes, the flips of serial
 * application, the latest name), and segment audiences by set algebra over it.
 * Part of the chaos soak (test/support/soak.ts).
 */
import { CohortMessage, changeOrderKey, type CohortRef } from '../../../lib/cohorts/messages.js';
import { cohortKey, type Alias, type SegmentFilter } from './workspaces.js';

export interface OracleEntry {
  orderKey: string;
  member: boolean;
}

export interface OracleCohort {
  /** brazeId → member (tombstones included: a removal writes one, as the store does). */
  members: Map<string, boolean>;
  /** brazeId → each request's net change to the user, in stamp order (what a register may be written with). */
  history: Map<string, OracleEntry[]>;
  /** Flips of serial application, request by request. */
  serialFlips: number;
  name?: { orderKey: string; name: string };
}

/**
 * The serial oracle of test/support/oracle.ts, extended to aliases, renames, several
 * workspaces and partners, and the flips it implies. Within a request a user's last change
 * wins (serial application of the array ends there); requests apply in stamp order.
 */
export const soakOracle = (
  bodies: readonly string[],
  brazeIdOf: (workspaceId: string, identifier: { externalId?: string; alias?: Alias }) => string | undefined,
) => {
  const messages = bodies
    .map((body) => CohortMessage.parse(JSON.parse(body)))
    .sort((a, b) => (changeOrderKey(a.stamp, 0) < changeOrderKey(b.stamp, 0) ? -1 : 1));
  const cohorts = new Map<string, OracleCohort>();
  const cohortOf = (ref: CohortRef) => {
    const key = cohortKey(ref);
    let cohort = cohorts.get(key);
    if (!cohort) cohorts.set(key, (cohort = { members: new Map(), history: new Map(), serialFlips: 0 }));
    return cohort;
  };
  for (const message of messages) {
    const cohort = cohortOf(message);
    if (message.type === 'cohort.named') {
      cohort.name = { orderKey: changeOrderKey(message.stamp, 0), name: message.name };
      continue;
    }
    const net = new Map<string, OracleEntry>();
    message.changes.forEach((change, index) => {
      const entry = { orderKey: changeOrderKey(message.stamp, index), member: change.should_remove !== true };
      const matched = [
        ...(change.user_ids ?? []).map((externalId) => brazeIdOf(message.workspaceId, { externalId })),
        ...(change.aliases ?? []).map((alias) => brazeIdOf(message.workspaceId, { alias })),
        // Device ids in deltas are identified users' or nobody's: never matched (contract rule 3).
      ];
      for (const brazeId of matched) if (brazeId !== undefined) net.set(brazeId, entry);
    });
    for (const [brazeId, entry] of net) {
      if ((cohort.members.get(brazeId) ?? false) !== entry.member) cohort.serialFlips += 1;
      cohort.members.set(brazeId, entry.member);
      const history = cohort.history.get(brazeId) ?? [];
      history.push(entry);
      cohort.history.set(brazeId, history);
    }
  }
  return { cohorts, requests: messages.length };
};

/** Segment audiences by set algebra over the oracle. An exclusion is only ever inside an `all` beside an inclusion. */
export const evaluateFilter = (
  filter: SegmentFilter,
  membersOf: (partner: string, cohortId: string) => Set<string>,
  universe: Set<string>,
): Set<string> => {
  if ('cohort' in filter) {
    const members = membersOf(filter.cohort.partner, filter.cohort.cohort_id);
    return filter.cohort.includes ? members : new Set([...universe].filter((brazeId) => !members.has(brazeId)));
  }
  const parts = ('all' in filter ? filter.all : filter.any).map((part) => evaluateFilter(part, membersOf, universe));
  if ('any' in filter) return new Set(parts.flatMap((part) => [...part]));
  return parts.reduce((kept, part) => new Set([...kept].filter((brazeId) => part.has(brazeId))));
};

/**
 * Who a cohort change matches (contract, "Who is matched"):
 * 1. `user_ids` match identified users by external id; `aliases` by (label, name).
 * 2. `device_ids` match anonymous users only (no external id).
 * 3. A user identified after being anonymous is never matched by device id.
 * 4. Nothing matched → counted as unmatched; cohort import never creates a user.
 */
import type { CohortChange } from '../contract/partner.js';
import { changeOrderKey, type CohortChangedMessage } from './messages.js';
import type { Cancellable } from './ports.js';

export type IdentifierRef =
  | { type: 'external_id'; externalId: string }
  | { type: 'alias'; label: string; name: string }
  | { type: 'device_id'; deviceId: string };

/** What the user directory knows of an identifier: whose it is and whether that user is identified. */
export interface DirectoryEntry {
  brazeId: string;
  identified: boolean;
}

/** The port the matching rules read users through. Implementations batch their lookups. */
export interface UserDirectory {
  lookup(
    workspaceId: string,
    identifiers: readonly IdentifierRef[],
    options?: Cancellable,
  ): Promise<Map<string, DirectoryEntry>>;
}

/** A stable key for an identifier, used to dedupe lookups and index results. */
export const identifierKey = (ref: IdentifierRef): string => {
  switch (ref.type) {
    case 'external_id':
      return `X\u0000${ref.externalId}`;
    case 'alias':
      return `A\u0000${ref.label}\u0000${ref.name}`;
    case 'device_id':
      return `D\u0000${ref.deviceId}`;
  }
};

export const identifiersOf = (change: CohortChange): IdentifierRef[] => [
  ...(change.user_ids ?? []).map((externalId): IdentifierRef => ({ type: 'external_id', externalId })),
  ...(change.aliases ?? []).map(
    (alias): IdentifierRef => ({ type: 'alias', label: alias.alias_label, name: alias.alias_name }),
  ),
  ...(change.device_ids ?? []).map((deviceId): IdentifierRef => ({ type: 'device_id', deviceId })),
];

/** The matching rule for one identifier. */
export const matchUser = (ref: IdentifierRef, entry: DirectoryEntry | undefined): string | undefined => {
  if (!entry) return undefined;
  if (ref.type === 'device_id' && entry.identified) return undefined;
  return entry.brazeId;
};

export interface DesiredMembership {
  brazeId: string;
  member: boolean;
  orderKey: string;
}

export interface MatchedChanges {
  received: number;
  matched: number;
  unmatched: number;
  /** One entry per user: the last change to that user in array order (what serial application would leave). */
  desired: DesiredMembership[];
}

/** Every distinct identifier of a message, for one batched directory lookup. */
export const identifiersToLookUp = (message: CohortChangedMessage): IdentifierRef[] => {
  const unique = new Map<string, IdentifierRef>();
  for (const change of message.changes) {
    for (const ref of identifiersOf(change)) unique.set(identifierKey(ref), ref);
  }
  return [...unique.values()];
};

export const matchChanges = (message: CohortChangedMessage, directory: Map<string, DirectoryEntry>): MatchedChanges => {
  let received = 0;
  let matched = 0;
  const desired = new Map<string, DesiredMembership>();
  message.changes.forEach((change, index) => {
    const orderKey = changeOrderKey(message.stamp, index);
    const member = change.should_remove !== true;
    for (const ref of identifiersOf(change)) {
      received += 1;
      const brazeId = matchUser(ref, directory.get(identifierKey(ref)));
      if (brazeId === undefined) continue;
      matched += 1;
      // Later changes in the array win, as they would applied one by one.
      desired.set(brazeId, { brazeId, member, orderKey });
    }
  });
  return { received, matched, unmatched: received - matched, desired: [...desired.values()] };
};

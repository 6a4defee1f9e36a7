import type { KeyHasher } from './keys.js';

export type KeyKind = 'data_import' | 'rest';

export interface Workspace {
  workspaceId: string;
  name: string;
  partners: string[];
  createdAt: string;
}

/** What a key hash resolves to. Data import keys carry the workspace's enabled partners (denormalized) so that ingest authenticates in one read. */
export interface KeyGrant {
  kind: KeyKind;
  workspaceId: string;
  partners: string[];
  /** Epoch seconds after which a rotated-out key stops working. */
  expiresAt?: number;
}

export interface PartnerRegistration {
  partner: string;
  /** `v2:`-prefixed peppered hash, or a legacy SHA-256 not yet upgraded (lib/workspaces/keys.ts). */
  keyHash: string;
  enabled: boolean;
}

/** The port the authentication rules need: one round trip for a partner request. */
export interface CredentialStore {
  /** How the store hashes keys: lookups go by `keyHasher.hash(key)`. */
  readonly keyHasher: KeyHasher;
  getPartnerAndKey(partner: string, keyHash: string): Promise<{ partner?: PartnerRegistration; grant?: KeyGrant }>;
  getKey(keyHash: string): Promise<KeyGrant | undefined>;
  /**
   * Moves a grant found under its legacy hash to its peppered hash (and the workspace's
   * record of its current key with it). A grant moved, rotated or revoked meanwhile is
   * left as it is: the next request finds whatever is current.
   */
  upgradeKeyHash(legacyHash: string, keyHash: string, grant: KeyGrant): Promise<void>;
  /** Replaces a partner's legacy key hash with the peppered one, unless the partner was re-keyed meanwhile. */
  upgradePartnerKeyHash(partner: string, legacyHash: string, keyHash: string): Promise<void>;
}

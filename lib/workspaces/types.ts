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
  keyHash: string;
  enabled: boolean;
}

/** The port the authentication rules need: one round trip for a partner request. */
export interface CredentialStore {
  getPartnerAndKey(partner: string, keyHash: string): Promise<{ partner?: PartnerRegistration; grant?: KeyGrant }>;
  getKey(keyHash: string): Promise<KeyGrant | undefined>;
}

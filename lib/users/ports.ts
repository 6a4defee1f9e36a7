/**
 * The ports the workspace's user endpoints are written against; lib/dynamodb implements
 * them, tests may hand in plain in-memory ones.
 */
import type { DirectoryEntry, IdentifierRef } from '../cohorts/matching.js';
import type { CohortRef } from '../cohorts/messages.js';
import type { Cohort } from '../cohorts/ports.js';

export interface UserAliasValue {
  alias_label: string;
  alias_name: string;
}

export interface UserProfile {
  brazeId: string;
  workspaceId: string;
  externalId?: string;
  aliases: UserAliasValue[];
  deviceIds: string[];
  customAttributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** A new user's profile: owned by the one identifier it was created for, nothing else known yet. */
export const newProfile = (workspaceId: string, brazeId: string, owner: IdentifierRef, now: Date): UserProfile => ({
  brazeId,
  workspaceId,
  ...(owner.type === 'external_id' ? { externalId: owner.externalId } : {}),
  aliases: owner.type === 'alias' ? [{ alias_label: owner.label, alias_name: owner.name }] : [],
  deviceIds: owner.type === 'device_id' ? [owner.deviceId] : [],
  customAttributes: {},
  createdAt: now.toISOString(),
  updatedAt: now.toISOString(),
});

/** The workspace's users, and when a profile was last created or removed (what a computed segment size depends on). */
export interface UserCount {
  users: number;
  lastCreatedAt?: string;
  lastRemovedAt?: string;
}

/** A write the user's current state refuses (an identifier owned by another user): reported per item, not a failed request. */
export class UserConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserConflictError';
  }
}

/** Where profiles and the identifiers that name them live. Writes throw UserConflictError when an identifier is taken. */
export interface UserStore {
  find(workspaceId: string, ref: IdentifierRef): Promise<DirectoryEntry | undefined>;
  /** The user the identifier names, or a new one it owns. */
  findOrCreate(workspaceId: string, ref: IdentifierRef, now: Date): Promise<{ brazeId: string; created: boolean }>;
  getProfile(workspaceId: string, brazeId: string): Promise<UserProfile | undefined>;
  /** The profiles of those ids that exist, each once. */
  getProfiles(workspaceId: string, brazeIds: readonly string[]): Promise<UserProfile[]>;
  addAlias(workspaceId: string, brazeId: string, alias: UserAliasValue, now: Date): Promise<void>;
  addDeviceToIdentifiedUser(workspaceId: string, brazeId: string, deviceId: string, now: Date): Promise<void>;
  setCustomAttributes(
    workspaceId: string,
    brazeId: string,
    attributes: Record<string, unknown>,
    now: Date,
  ): Promise<void>;
  /** The anonymous profile becomes `externalId`'s user. */
  identifyInPlace(workspaceId: string, profile: UserProfile, externalId: string, now: Date): Promise<void>;
  /** The source's identifiers move to the target, and the source profile is removed. */
  mergeInto(workspaceId: string, source: UserProfile, target: UserProfile, now: Date): Promise<void>;
}

/** Cohort memberships as the user endpoints see them. */
export interface UserMemberships {
  cohortsOfUser(workspaceId: string, brazeId: string): Promise<CohortRef[]>;
  getCohorts(workspaceId: string, refs: readonly CohortRef[]): Promise<Cohort[]>;
  /** Ends every membership of a profile a merge removes; answers how many ended. */
  dropUser(workspaceId: string, brazeId: string, now: Date): Promise<number>;
}

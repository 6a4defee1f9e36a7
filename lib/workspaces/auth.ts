import { AuthenticationError } from '../errors.js';
import { PARTNER_MESSAGES } from '../contract/partner.js';
import { isLegacyKeyHash, type KeyHasher, keyHashesEqual, legacyKeyHash, maskKey } from './keys.js';
import type { CredentialStore, KeyGrant } from './types.js';

const isLive = (grant: KeyGrant, now: Date): boolean =>
  grant.expiresAt === undefined || grant.expiresAt * 1000 > now.getTime();

/** Whether `key` is the one `storedHash` was made of, whichever version the hash is; compared in constant time. */
const matchesStoredHash = async (hasher: KeyHasher, key: string, storedHash: string): Promise<boolean> =>
  keyHashesEqual(storedHash, isLegacyKeyHash(storedHash) ? legacyKeyHash(key) : await hasher.hash(key));

/**
 * A grant by its key: under the key's hash, or else under its legacy hash (stored before
 * peppers, lib/workspaces/keys.ts). The fallback costs a second read only for a key not
 * found under its hash: unknown keys, and keys not used since peppers came.
 */
const findGrant = async (
  store: CredentialStore,
  key: string,
  found?: KeyGrant,
): Promise<{ grant?: KeyGrant; legacyHash?: string }> => {
  if (found || key === '') return { grant: found };
  const legacyHash = legacyKeyHash(key);
  const grant = await store.getKey(legacyHash);
  return grant ? { grant, legacyHash } : {};
};

/**
 * The contract's three 401s, in the contract's order: partner key, then client secret,
 * then whether the partner is enabled for the workspace. Runs before body validation:
 * bad keys are always a 401, whatever the body. Keys found under legacy hashes are
 * re-stored under their peppered hash once the request is authenticated (a migration
 * that needs no one to hand their keys over).
 */
export const authenticatePartner = async (
  store: CredentialStore,
  request: { partner: string; partnerApiKey: unknown; clientSecret: unknown },
  now: Date = new Date(),
): Promise<{ workspaceId: string }> => {
  const { partner, partnerApiKey, clientSecret } = request;
  const hasher = store.keyHasher;
  if (typeof partnerApiKey !== 'string' || partnerApiKey === '') {
    throw new AuthenticationError(PARTNER_MESSAGES.invalidPartnerKey);
  }
  const secret = typeof clientSecret === 'string' ? clientSecret : '';
  const secretHash = await hasher.hash(secret);
  const found = await store.getPartnerAndKey(partner, secretHash);
  const registration = found.partner;
  if (!registration?.enabled || !(await matchesStoredHash(hasher, partnerApiKey, registration.keyHash))) {
    throw new AuthenticationError(PARTNER_MESSAGES.invalidPartnerKey);
  }
  const { grant, legacyHash } = await findGrant(store, secret, found.grant);
  if (secret === '' || !grant || grant.kind !== 'data_import' || !isLive(grant, now)) {
    throw new AuthenticationError(PARTNER_MESSAGES.invalidClientSecret);
  }
  if (!grant.partners.includes(partner)) {
    throw new AuthenticationError(
      PARTNER_MESSAGES.partnerNotEnabled(secret),
      PARTNER_MESSAGES.partnerNotEnabled(maskKey(secret)),
    );
  }
  if (isLegacyKeyHash(registration.keyHash))
    await store.upgradePartnerKeyHash(partner, registration.keyHash, await hasher.hash(partnerApiKey));
  if (legacyHash) await store.upgradeKeyHash(legacyHash, secretHash, grant);
  return { workspaceId: grant.workspaceId };
};

/** Workspace REST API: `Authorization: Bearer <REST API key>`. */
export const authenticateRestKey = async (
  store: CredentialStore,
  authorization: string | undefined,
  now: Date = new Date(),
): Promise<{ workspaceId: string }> => {
  const hasher = store.keyHasher;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1])
    throw new AuthenticationError('Missing or malformed Authorization header: expected `Bearer <REST API key>`');
  const key = match[1];
  const keyHash = await hasher.hash(key);
  const { grant, legacyHash } = await findGrant(store, key, await store.getKey(keyHash));
  if (grant?.kind !== 'rest' || !isLive(grant, now)) throw new AuthenticationError('Invalid REST API key');
  if (legacyHash) await store.upgradeKeyHash(legacyHash, keyHash, grant);
  return { workspaceId: grant.workspaceId };
};

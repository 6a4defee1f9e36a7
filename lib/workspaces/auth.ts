import { AuthenticationError } from '../errors.js';
import { PARTNER_MESSAGES } from '../contract/partner.js';
import { hashKey, keyHashesEqual, maskKey } from './keys.js';
import type { CredentialStore, KeyGrant } from './types.js';

const isLive = (grant: KeyGrant, now: Date): boolean =>
  grant.expiresAt === undefined || grant.expiresAt * 1000 > now.getTime();

/**
 * The contract's three 401s, in the contract's order: partner key, then client secret,
 * then whether the partner is enabled for the workspace. Runs before body validation:
 * bad keys are always a 401, whatever the body.
 */
export const authenticatePartner = async (
  store: CredentialStore,
  request: { partner: string; partnerApiKey: unknown; clientSecret: unknown },
  now: Date = new Date(),
): Promise<{ workspaceId: string }> => {
  const { partner, partnerApiKey, clientSecret } = request;
  if (typeof partnerApiKey !== 'string' || partnerApiKey === '') {
    throw new AuthenticationError(PARTNER_MESSAGES.invalidPartnerKey);
  }
  const secret = typeof clientSecret === 'string' ? clientSecret : '';
  const found = await store.getPartnerAndKey(partner, hashKey(secret));
  if (!found.partner || !found.partner.enabled || !keyHashesEqual(found.partner.keyHash, hashKey(partnerApiKey))) {
    throw new AuthenticationError(PARTNER_MESSAGES.invalidPartnerKey);
  }
  const grant = found.grant;
  if (secret === '' || !grant || grant.kind !== 'data_import' || !isLive(grant, now)) {
    throw new AuthenticationError(PARTNER_MESSAGES.invalidClientSecret);
  }
  if (!grant.partners.includes(partner)) {
    throw new AuthenticationError(
      PARTNER_MESSAGES.partnerNotEnabled(secret),
      PARTNER_MESSAGES.partnerNotEnabled(maskKey(secret)),
    );
  }
  return { workspaceId: grant.workspaceId };
};

/** Workspace REST API: `Authorization: Bearer <REST API key>`. */
export const authenticateRestKey = async (
  store: CredentialStore,
  authorization: string | undefined,
  now: Date = new Date(),
): Promise<{ workspaceId: string }> => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1])
    throw new AuthenticationError('Missing or malformed Authorization header: expected `Bearer <REST API key>`');
  const grant = await store.getKey(hashKey(match[1]));
  if (!grant || grant.kind !== 'rest' || !isLive(grant, now)) throw new AuthenticationError('Invalid REST API key');
  return { workspaceId: grant.workspaceId };
};

import { describe, expect, it } from 'vitest';
import { authenticatePartner, authenticateRestKey } from '../../lib/workspaces/auth.js';
import { type KeyHasher, legacyKeyHash } from '../../lib/workspaces/keys.js';
import type { CredentialStore, KeyGrant, PartnerRegistration } from '../../lib/workspaces/types.js';
import { hashedKeys } from '../support/keys.js';
import { AuthenticationError } from '../../lib/errors.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';

const { keyHasher, hashKey } = await hashedKeys([
  'heap-key',
  'segment-key',
  'kubit-key',
  'secret-a',
  'rest-a',
  'old-secret',
]);

/** A plain in-memory credential store: hashes in, grants out; upgrades move entries as the DynamoDB store does. */
const memoryStore = (
  partners: PartnerRegistration[],
  grants: Record<string, KeyGrant>,
  hasher: KeyHasher = keyHasher,
): CredentialStore => ({
  keyHasher: hasher,
  getPartnerAndKey: async (partner, keyHash) => ({
    partner: partners.find((p) => p.partner === partner),
    grant: grants[keyHash],
  }),
  getKey: async (keyHash) => grants[keyHash],
  upgradeKeyHash: async (legacyHash, keyHash) => {
    if (!grants[legacyHash] || grants[keyHash]) return;
    grants[keyHash] = grants[legacyHash];
    delete grants[legacyHash];
  },
  upgradePartnerKeyHash: async (partner, legacyHash, keyHash) => {
    const registration = partners.find((p) => p.partner === partner);
    if (registration?.keyHash === legacyHash) registration.keyHash = keyHash;
  },
});

const store = memoryStore(
  [
    { partner: 'heap', keyHash: hashKey('heap-key'), enabled: true },
    { partner: 'segment', keyHash: hashKey('segment-key'), enabled: true },
    { partner: 'kubit', keyHash: hashKey('kubit-key'), enabled: false },
  ],
  {
    [hashKey('secret-a')]: { kind: 'data_import', workspaceId: 'A', partners: ['heap'] },
    [hashKey('rest-a')]: { kind: 'rest', workspaceId: 'A', partners: ['heap'] },
    [hashKey('old-secret')]: { kind: 'data_import', workspaceId: 'A', partners: ['heap'], expiresAt: 1_000 },
  },
);

const failure = async (promise: Promise<unknown>): Promise<AuthenticationError> => {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AuthenticationError);
  return error as AuthenticationError;
};

describe('authenticatePartner', () => {
  const now = new Date(2_000_000);

  it('resolves a valid partner key and client secret to the workspace', async () => {
    await expect(
      authenticatePartner(store, { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'secret-a' }, now),
    ).resolves.toEqual({
      workspaceId: 'A',
    });
  });

  it.each([
    [
      'a wrong partner key',
      { partner: 'heap', partnerApiKey: 'nope', clientSecret: 'secret-a' },
      PARTNER_MESSAGES.invalidPartnerKey,
    ],
    [
      "another partner's key",
      { partner: 'heap', partnerApiKey: 'segment-key', clientSecret: 'secret-a' },
      PARTNER_MESSAGES.invalidPartnerKey,
    ],
    [
      'an unknown partner',
      { partner: 'nobody', partnerApiKey: 'heap-key', clientSecret: 'secret-a' },
      PARTNER_MESSAGES.invalidPartnerKey,
    ],
    [
      'a disabled partner',
      { partner: 'kubit', partnerApiKey: 'kubit-key', clientSecret: 'secret-a' },
      PARTNER_MESSAGES.invalidPartnerKey,
    ],
    [
      'a partner key that is not a string',
      { partner: 'heap', partnerApiKey: 7, clientSecret: 'secret-a' },
      PARTNER_MESSAGES.invalidPartnerKey,
    ],
    [
      'a wrong client secret',
      { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'nope' },
      PARTNER_MESSAGES.invalidClientSecret,
    ],
    [
      'a missing client secret',
      { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: undefined },
      PARTNER_MESSAGES.invalidClientSecret,
    ],
    [
      'a REST key as client secret',
      { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'rest-a' },
      PARTNER_MESSAGES.invalidClientSecret,
    ],
    [
      'an expired client secret',
      { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'old-secret' },
      PARTNER_MESSAGES.invalidClientSecret,
    ],
  ])('answers 401 to %s', async (_case, request, message) => {
    const error = await failure(authenticatePartner(store, request, now));
    expect(error.statusCode).toBe(401);
    expect(error.message).toBe(message);
  });

  it('says the partner is not enabled, echoing the secret on the wire but masking it for the logs', async () => {
    const error = await failure(
      authenticatePartner(store, { partner: 'segment', partnerApiKey: 'segment-key', clientSecret: 'secret-a' }, now),
    );
    expect(error.message).toBe('Partner not enabled for client with client secret: secret-a');
    expect(error.logMessage).not.toContain('secret-a');
  });
});

describe('authenticateRestKey', () => {
  it('accepts a Bearer REST API key and nothing else', async () => {
    await expect(authenticateRestKey(store, 'Bearer rest-a')).resolves.toEqual({ workspaceId: 'A' });
    await failure(authenticateRestKey(store, 'Bearer secret-a'));
    await failure(authenticateRestKey(store, 'rest-a'));
    await failure(authenticateRestKey(store, undefined));
  });
});

describe('keys stored before peppers (plain SHA-256)', () => {
  const now = new Date(2_000_000);
  const legacyStore = () => {
    const partners: PartnerRegistration[] = [{ partner: 'heap', keyHash: legacyKeyHash('heap-key'), enabled: true }];
    const grants: Record<string, KeyGrant> = {
      [legacyKeyHash('secret-a')]: { kind: 'data_import', workspaceId: 'A', partners: ['heap'] },
      [legacyKeyHash('rest-a')]: { kind: 'rest', workspaceId: 'A', partners: ['heap'] },
    };
    return { partners, grants, store: memoryStore(partners, grants) };
  };

  it('still authenticate, and are re-stored under their peppered hashes once they have', async () => {
    // Prepare
    const { partners, grants, store } = legacyStore();

    // Act
    const first = await authenticatePartner(
      store,
      { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'secret-a' },
      now,
    );
    const rest = await authenticateRestKey(store, 'Bearer rest-a', now);

    // Assess
    expect(first).toEqual({ workspaceId: 'A' });
    expect(rest).toEqual({ workspaceId: 'A' });
    expect(partners[0]!.keyHash).toBe(hashKey('heap-key'));
    expect(Object.keys(grants).sort()).toEqual([hashKey('rest-a'), hashKey('secret-a')].sort());
    await expect(
      authenticatePartner(store, { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'secret-a' }, now),
    ).resolves.toEqual({ workspaceId: 'A' });
  });

  it('are not re-stored by a request that fails, and a wrong key matches no legacy hash', async () => {
    // Prepare
    const { partners, grants, store } = legacyStore();

    // Act
    const wrongSecret = await failure(
      authenticatePartner(store, { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'nope' }, now),
    );
    const wrongPartnerKey = await failure(
      authenticatePartner(store, { partner: 'heap', partnerApiKey: 'nope', clientSecret: 'secret-a' }, now),
    );

    // Assess
    expect(wrongSecret.message).toBe(PARTNER_MESSAGES.invalidClientSecret);
    expect(wrongPartnerKey.message).toBe(PARTNER_MESSAGES.invalidPartnerKey);
    expect(partners[0]!.keyHash).toBe(legacyKeyHash('heap-key'));
    expect(Object.keys(grants)).toContain(legacyKeyHash('secret-a'));
  });

  it('are only found through the pepper they were hashed with', async () => {
    // Prepare: the same keys hashed under another pepper.
    const other = await hashedKeys(['heap-key', 'secret-a']);
    const grants = {
      [other.hashKey('secret-a')]: { kind: 'data_import' as const, workspaceId: 'A', partners: ['heap'] },
    };
    const store = memoryStore([{ partner: 'heap', keyHash: other.hashKey('heap-key'), enabled: true }], grants);

    // Act
    const error = await failure(
      authenticatePartner(store, { partner: 'heap', partnerApiKey: 'heap-key', clientSecret: 'secret-a' }, now),
    );

    // Assess
    expect(error.message).toBe(PARTNER_MESSAGES.invalidPartnerKey);
  });
});

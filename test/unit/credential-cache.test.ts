import { inspect } from 'node:util';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { authenticatePartner } from '../../lib/workspaces/auth.js';
import { CachedCredentialStore } from '../../lib/workspaces/credential-cache.js';
import type { CredentialStore, KeyGrant, PartnerRegistration } from '../../lib/workspaces/types.js';
import { PARTNER_MESSAGES } from '../../lib/contract/partner.js';
import { hashedKeys } from '../support/keys.js';

const { keyHasher, hashKey } = await hashedKeys(['heap-key', 'secret-a', 'secret-new', 's1', 's2', 's3']);

/** A plain in-memory credential store that can be changed, and counts its reads. */
const memoryStore = () => {
  const partners = new Map<string, PartnerRegistration>([
    ['heap', { partner: 'heap', keyHash: hashKey('heap-key'), enabled: true }],
  ]);
  const grants = new Map<string, KeyGrant>([
    [hashKey('secret-a'), { kind: 'data_import', workspaceId: 'A', partners: ['heap'] }],
  ]);
  const reads: string[] = [];
  const store: CredentialStore = {
    keyHasher,
    upgradeKeyHash: async () => undefined,
    upgradePartnerKeyHash: async () => undefined,
    getPartnerAndKey: async (partner, keyHash) => {
      reads.push(keyHash);
      return { partner: partners.get(partner), grant: grants.get(keyHash) };
    },
    getKey: async (keyHash) => {
      reads.push(keyHash);
      return grants.get(keyHash);
    },
  };
  return { store, partners, grants, reads };
};

const clock = () => {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

const authenticate = (store: CredentialStore, clientSecret: string, now = new Date(2_000_000)) =>
  authenticatePartner(store, { partner: 'heap', partnerApiKey: 'heap-key', clientSecret }, now).then(
    (result) => result.workspaceId,
    (error: Error) => error.message,
  );

describe('credential cache', () => {
  it('reads a credential once per TTL, and reads it again after', async () => {
    // Prepare
    const { store, reads } = memoryStore();
    const time = clock();
    const cached = new CachedCredentialStore(store, { ttlMs: 30_000, now: time.now });

    // Act
    for (let index = 0; index < 10; index += 1) expect(await authenticate(cached, 'secret-a')).toBe('A');
    time.advance(30_001);
    expect(await authenticate(cached, 'secret-a')).toBe('A');

    // Assess
    expect(reads).toHaveLength(2);
  });

  it('keeps only hashes: the key itself is nowhere in the cache', async () => {
    // Prepare
    const { store } = memoryStore();
    const cached = new CachedCredentialStore(store);

    // Act
    await authenticate(cached, 'secret-a');

    // Assess: the store's fields, and every entry of its caches (lru-cache keeps them in private fields).
    const caches = Object.values(cached).filter((field) => field instanceof LRUCache);
    expect(caches).toHaveLength(2);
    const held = inspect([cached, caches.map((cache) => [...cache.entries()])], {
      depth: Infinity,
      maxStringLength: Infinity,
    });
    expect(held).toContain(hashKey('secret-a'));
    expect(held).not.toMatch(/'secret-a'|'heap-key'/);
  });

  it('never caches a miss: a key created after a failed attempt works at once', async () => {
    // Prepare
    const { store, grants } = memoryStore();
    const cached = new CachedCredentialStore(store, { ttlMs: 60_000 });
    expect(await authenticate(cached, 'secret-new')).toBe(PARTNER_MESSAGES.invalidClientSecret);

    // Act
    grants.set(hashKey('secret-new'), { kind: 'data_import', workspaceId: 'A', partners: ['heap'] });

    // Assess
    expect(await authenticate(cached, 'secret-new')).toBe('A');
  });

  it('lets a revoked key work until the TTL ends (30 s to the millisecond), never longer', async () => {
    // Prepare
    const { store, grants } = memoryStore();
    const time = clock();
    const cached = new CachedCredentialStore(store, { ttlMs: 30_000, now: time.now });
    expect(await authenticate(cached, 'secret-a')).toBe('A');

    // Act: the key is rotated out without grace.
    grants.delete(hashKey('secret-a'));

    // Assess
    time.advance(30_000);
    expect(await authenticate(cached, 'secret-a')).toBe('A');
    time.advance(1);
    expect(await authenticate(cached, 'secret-a')).toBe(PARTNER_MESSAGES.invalidClientSecret);
  });

  it('ends a grace period on time, cached or not', async () => {
    // Prepare
    const { store, grants } = memoryStore();
    grants.set(hashKey('secret-a'), { kind: 'data_import', workspaceId: 'A', partners: ['heap'], expiresAt: 2_000 });
    const cached = new CachedCredentialStore(store, { ttlMs: 60_000 });

    // Act & Assess
    expect(await authenticate(cached, 'secret-a', new Date(1_999_000))).toBe('A');
    expect(await authenticate(cached, 'secret-a', new Date(2_000_000))).toBe(PARTNER_MESSAGES.invalidClientSecret);
  });

  it('checks the partner key at every request, cached or not', async () => {
    // Prepare
    const { store } = memoryStore();
    const cached = new CachedCredentialStore(store);
    await authenticate(cached, 'secret-a');

    // Act
    const result = await authenticatePartner(cached, {
      partner: 'heap',
      partnerApiKey: 'wrong',
      clientSecret: 'secret-a',
    }).catch((error: Error) => error.message);

    // Assess
    expect(result).toBe(PARTNER_MESSAGES.invalidPartnerKey);
  });

  it('reads the store at every request when off, and caches REST key grants too when on', async () => {
    // Prepare
    const off = memoryStore();
    const on = memoryStore();
    const uncached = new CachedCredentialStore(off.store, { ttlMs: 0 });
    const cached = new CachedCredentialStore(on.store);

    // Act
    for (let index = 0; index < 3; index += 1) {
      await authenticate(uncached, 'secret-a');
      await cached.getKey(hashKey('secret-a'));
    }

    // Assess
    expect(off.reads).toHaveLength(3);
    expect(on.reads).toHaveLength(1);
  });

  it('holds at most maxEntries lookups, dropping the least recently used', async () => {
    // Prepare
    const { store, grants, reads } = memoryStore();
    for (const secret of ['s1', 's2', 's3'])
      grants.set(hashKey(secret), { kind: 'data_import', workspaceId: secret, partners: ['heap'] });
    const cached = new CachedCredentialStore(store, { maxEntries: 2 });

    // Act: s1 is used again after s2, so s2 is the one dropped for s3.
    for (const secret of ['s1', 's2', 's1', 's3', 's1', 's2']) await authenticate(cached, secret);

    // Assess
    expect(reads).toEqual([hashKey('s1'), hashKey('s2'), hashKey('s3'), hashKey('s2')]);
  });
});

/**
 * A short-lived cache of credential lookups, one per Lambda instance, so that a partner
 * sending thousands of requests an hour costs one credential read per instance every
 * `ttlMs`, not one per request.
 *
 * - Keyed by key hashes (and the partner's name), never by keys.
 * - Only lookups that found both the partner and the key's grant are kept. A lookup that
 *   found nothing is never cached, so a key created a moment ago works at once.
 * - What is cached is the stored data, not the verdict: the partner key, the grant's kind,
 *   partners and `expiresAt` are checked at every request (lib/workspaces/auth.ts), so a
 *   rotation's grace period ends on time.
 * - The price: a change to a cached grant or partner (a key rotated without grace, a
 *   partner disabled or re-keyed, a workspace's partners changed) reaches an instance that
 *   had it cached up to `ttlMs` late.
 */
import { LRUCache } from 'lru-cache';
import type { KeyHasher } from './keys.js';
import type { CredentialStore, KeyGrant, PartnerRegistration } from './types.js';

/** Product decision: a revoked key may keep working for up to 30 s on a warm instance. */
export const DEFAULT_CREDENTIAL_CACHE_TTL_MS = 30_000;
/** Bounds the memory of an instance that sees many keys (each entry is well under 1 KB). */
export const DEFAULT_CREDENTIAL_CACHE_ENTRIES = 1_000;

export interface CredentialCacheOptions {
  /** How long a lookup is reused; 0 turns the cache off. */
  ttlMs?: number;
  maxEntries?: number;
  /** Milliseconds since the epoch (tests move time). */
  now?: () => number;
}

/**
 * Entries that expire after `ttlMs`, dropping the least recently used past `maxEntries`
 * (lru-cache; `now` is its clock, checked at every read: tests move time).
 */
const expiringMap = <Value extends {}>(ttlMs: number, maxEntries: number, now: () => number) =>
  new LRUCache<string, Value>({ max: maxEntries, ttl: ttlMs, ttlResolution: 0, perf: { now } });

export class CachedCredentialStore implements CredentialStore {
  private readonly partnerRequests?: LRUCache<string, { partner: PartnerRegistration; grant: KeyGrant }>;
  private readonly grants?: LRUCache<string, KeyGrant>;
  readonly keyHasher: KeyHasher;

  constructor(
    private readonly store: CredentialStore,
    options: CredentialCacheOptions = {},
  ) {
    const ttlMs = options.ttlMs ?? DEFAULT_CREDENTIAL_CACHE_TTL_MS;
    const maxEntries = options.maxEntries ?? DEFAULT_CREDENTIAL_CACHE_ENTRIES;
    const now = options.now ?? Date.now;
    this.keyHasher = store.keyHasher;
    if (ttlMs > 0 && maxEntries > 0) {
      this.partnerRequests = expiringMap(ttlMs, maxEntries, now);
      this.grants = expiringMap(ttlMs, maxEntries, now);
    }
  }

  async getPartnerAndKey(
    partner: string,
    keyHash: string,
  ): Promise<{ partner?: PartnerRegistration; grant?: KeyGrant }> {
    if (!this.partnerRequests) return this.store.getPartnerAndKey(partner, keyHash);
    // Key hashes of a version all have one length, so hash first makes the pair unambiguous whatever the partner's name.
    const cacheKey = `${keyHash}${partner}`;
    const cached = this.partnerRequests.get(cacheKey);
    if (cached) return cached;
    const found = await this.store.getPartnerAndKey(partner, keyHash);
    if (found.partner && found.grant)
      this.partnerRequests.set(cacheKey, { partner: found.partner, grant: found.grant });
    return found;
  }

  /** Writes go to the store; what is cached under the legacy hash ages out (a lookup by the new hash comes first). */
  upgradeKeyHash(legacyHash: string, keyHash: string, grant: KeyGrant): Promise<void> {
    return this.store.upgradeKeyHash(legacyHash, keyHash, grant);
  }

  upgradePartnerKeyHash(partner: string, legacyHash: string, keyHash: string): Promise<void> {
    return this.store.upgradePartnerKeyHash(partner, legacyHash, keyHash);
  }

  async getKey(keyHash: string): Promise<KeyGrant | undefined> {
    if (!this.grants) return this.store.getKey(keyHash);
    const cached = this.grants.get(keyHash);
    if (cached) return cached;
    const grant = await this.store.getKey(keyHash);
    if (grant) this.grants.set(keyHash, grant);
    return grant;
  }
}

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../errors.js';
import { derivedKey, type SecretSource } from '../secrets/secret.js';

/**
 * Keys (partner API keys, data import keys, REST API keys) are bearer secrets: whoever
 * holds one acts as its owner. They are generated with 256 random bits, printed once to
 * the operator, and stored only as a peppered hash:
 *
 *   v2:<hex HMAC-SHA-256(pepper, SHA-256(key))>
 *
 * - The pepper is a service secret kept outside the tables (AWS: Secrets Manager; local:
 *   the stack's secrets file), so a copy of the tables alone cannot confirm a guessed key.
 * - The inner SHA-256 is the hash stored before peppers (unversioned, 64 hex digits): a
 *   stored legacy hash becomes the v2 hash of the same key without knowing the key
 *   (`KeyHasher.upgrade`), which is how old records are migrated (lib/workspaces/auth.ts).
 * - No salt and no slow hash: with 256 random bits there is nothing to brute-force, and
 *   the hash must be a lookup key (one read per request).
 */
export const KEY_HASH_PREFIX = 'v2:';

/** The key hash stored before peppers: plain SHA-256, 64 hex digits. */
export const legacyKeyHash = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export const isLegacyKeyHash = (keyHash: string): boolean => !keyHash.startsWith(KEY_HASH_PREFIX);

export interface KeyHasher {
  /** The stored form of a key. */
  hash(key: string): Promise<string>;
  /** The stored form of the key whose legacy hash this is. */
  upgrade(legacyHash: string): Promise<string>;
}

/** The key hasher of a service secret (fetched when the first key is hashed, then kept). */
export const createKeyHasher = (secret: SecretSource): KeyHasher => {
  const pepper = derivedKey(secret, 'key hash pepper v2');
  const peppered = async (digest: Buffer) =>
    `${KEY_HASH_PREFIX}${createHmac('sha256', await pepper())
      .update(digest)
      .digest('hex')}`;
  return {
    hash: (key) => peppered(createHash('sha256').update(key, 'utf8').digest()),
    upgrade: (legacyHash) => {
      if (!/^[0-9a-f]{64}$/.test(legacyHash)) return Promise.reject(new Error('not a legacy key hash'));
      return peppered(Buffer.from(legacyHash, 'hex'));
    },
  };
};

/** Compares two stored hashes in constant time (for equal lengths, which all of one version have). */
export const keyHashesEqual = (left: string, right: string): boolean => {
  const a = Buffer.from(left, 'utf8');
  const b = Buffer.from(right, 'utf8');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
};

/** Bits of randomness in every key this service generates (and the floor for keys a caller supplies). */
export const KEY_ENTROPY_BITS = 256;

/** A new key: 256 random bits as 64 lowercase hex digits (a double-click selects all of it; nothing to escape in JSON or a shell). */
export const generateKey = (): string => randomBytes(KEY_ENTROPY_BITS / 8).toString('hex');

/**
 * What is wrong with a key a caller chose (LOCAL_* variables, a store call with a given
 * key), or undefined if nothing is. How random a string is cannot be measured from the
 * string, so this is a floor, not a proof: its length times log2 of the alphabet it draws
 * from (hex digits, dashes aside: 16; otherwise digits, lower and upper case and other
 * printable ASCII add 10, 26, 26 and 32) must reach 256 bits, and no character may make
 * up more than a third of it (a generated 64-hex-digit key does so about once in 200
 * million: a digit's count is binomial(64, 1/16), P(≥ 22) ≈ 3 × 10⁻¹⁰, times 16 digits; at
 * "a quarter" it was once in ~70,000, often enough to refuse a generated key pasted into
 * LOCAL_*_KEY, and to fail the test of 1,000 generated keys about once in 70 runs). A UUID
 * (122 random bits, 128 by this count) is refused.
 */
export const keyStrengthProblem = (key: string): string | undefined => {
  const generated = `use 64 hex digits from a secure random source (openssl rand -hex 32), or leave it unset to have one generated`;
  if (!/^[\x21-\x7e]+$/.test(key)) return `it must be printable ASCII without spaces: ${generated}`;
  // Hex digits, dashes between them (a UUID's) count for nothing.
  const hex = /^[0-9a-f-]+$/.test(key) || /^[0-9A-F-]+$/.test(key);
  const symbols = hex ? key.replaceAll('-', '').length : key.length;
  const alphabet = hex ? 16 : alphabetSize(key);
  const bits = Math.floor(symbols * Math.log2(alphabet));
  if (bits < KEY_ENTROPY_BITS)
    return `it carries at most ${bits} random bits (${symbols} characters from an alphabet of ${alphabet}); at least ${KEY_ENTROPY_BITS} are needed: ${generated}`;
  const counts = new Map<string, number>();
  for (const character of key) counts.set(character, (counts.get(character) ?? 0) + 1);
  if (Math.max(...counts.values()) * 3 > key.length)
    return `one character makes up more than a third of it, which a random key does not: ${generated}`;
  return undefined;
};

const alphabetSize = (key: string): number =>
  (/[0-9]/.test(key) ? 10 : 0) +
  (/[a-z]/.test(key) ? 26 : 0) +
  (/[A-Z]/.test(key) ? 26 : 0) +
  (/[^0-9a-zA-Z]/.test(key) ? 32 : 0);

/** A key a caller chose that is too weak to be stored: the caller's mistake (a 400, or a CLI message). */
export class WeakKeyError extends ValidationError {
  constructor(
    readonly what: string,
    problem: string,
  ) {
    super(`The ${what} given is too weak: ${problem}`);
    this.name = 'WeakKeyError';
  }
}

/** Throws a WeakKeyError naming `what` (e.g. 'data import key') unless the key is strong enough. */
export const assertStrongKey = (key: string, what: string): string => {
  const problem = keyStrengthProblem(key);
  if (problem) throw new WeakKeyError(what, problem);
  return key;
};

/** A 24-hex-digit id, the shape of a Braze `braze_id`. */
export const generateId = (): string => randomBytes(12).toString('hex');

/** What logs may show of a key: enough to tell two apart, never enough to use one. */
export const maskKey = (key: unknown): string => {
  if (typeof key !== 'string' || key.length === 0) return '<none>';
  return key.length <= 8 ? '****' : `${key.slice(0, 4)}…(${key.length})`;
};

/**
 * What the console shows of a workspace's current key, stored beside its hash when the
 * key is issued: its last 4 characters (16 of a generated key's 256 bits, so 240 stay
 * secret), enough for a customer to tell which key a partner holds, never enough to use it.
 */
export const keyHint = (key: string): string => `…${key.slice(-4)}`;

/**
 * When a key rotated out with a grace of `graceSeconds` stops working, in epoch seconds.
 * Rounded up: a grace of N seconds lasts at least N seconds (rounded down, 1 s could last 1 ms).
 */
export const graceEndsAt = (now: Date, graceSeconds: number): number =>
  Math.ceil(now.getTime() / 1000) + Math.max(0, graceSeconds);

/**
 * The grace a rotation really gives. Ingest instances reuse a key lookup for the credential
 * cache's TTL (lib/workspaces/credential-cache.ts), and one looked up before the rotation
 * carries no expiry: it may be accepted for that long whatever the grace. So a grace is at
 * least the cache's TTL, and the expiry stored, announced and enforced is that one: a key
 * stops working when the API said it would, to the second. A grace of 0 revokes at once;
 * instances that cached the key accept it for at most the TTL (documented, tested).
 */
export const effectiveGraceSeconds = (graceSeconds: number, cacheTtlSeconds: number): number =>
  graceSeconds > 0 ? Math.max(graceSeconds, Math.ceil(cacheTtlSeconds)) : 0;

/** What a rotation answers about the old key: until when it works (ISO), or null if it stopped at once. */
export const oldKeyWorksUntil = (now: Date, graceSeconds: number): string | null =>
  graceSeconds > 0 ? new Date(graceEndsAt(now, graceSeconds) * 1000).toISOString() : null;

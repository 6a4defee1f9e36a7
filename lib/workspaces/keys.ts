import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Keys are 256-bit random secrets, so a plain SHA-256 is a sound one-way store for
 * them (no salt or slow hash needed: nothing to brute-force). Only the hash is ever
 * written; the key itself is printed once, at creation, to the operator.
 */
export const hashKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export const keyHashesEqual = (left: string, right: string): boolean => {
  const a = Buffer.from(left, 'hex');
  const b = Buffer.from(right, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
};

/** Braze-style keys look like UUIDs; ours carry 122 random bits each (two UUIDv4 would be overkill). */
export const generateKey = (): string => randomUUID();

/** A 24-hex-digit id, the shape of a Braze `braze_id`. */
export const generateId = (): string => randomBytes(12).toString('hex');

/** What logs may show of a key: enough to tell two apart, never enough to use one. */
export const maskKey = (key: unknown): string => {
  if (typeof key !== 'string' || key.length === 0) return '<none>';
  return key.length <= 8 ? '****' : `${key.slice(0, 4)}…(${key.length})`;
};

/**
 * Service secrets: random values kept outside the tables (AWS: Secrets Manager,
 * lib/aws/secrets.ts; the local stack: a generated file, local/secrets.ts), from
 * which the key-hash pepper and the connector-token key are derived. A table copied
 * without them yields neither a usable key nor a readable token.
 */
import { hkdf } from 'node:crypto';
import { promisify } from 'node:util';

/** A secret's bytes, fetched when first asked for (a function instance asks once, at its first request that needs it). */
export type SecretSource = () => Promise<Uint8Array>;

/** What the service needs: the pepper of key hashes (ingest, api) and the key of connector tokens (currents). */
export interface ServiceSecrets {
  keyPepper: SecretSource;
  connectorTokenKey: SecretSource;
}

/** The fewest bytes a service secret may have (the AWS secrets are 64 alphanumerics, about 381 bits). */
export const MIN_SECRET_BYTES = 32;

/**
 * Calls `load` once and keeps its value; a failure (throttled, timed out) is not kept,
 * so the next call tries again instead of failing every request of the instance.
 */
export const once = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let value: Promise<T> | undefined;
  return () => {
    value ??= load().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
};

const hkdfAsync = promisify(hkdf);

/**
 * A 32-byte key for one purpose from a service secret (HKDF-SHA-256, RFC 5869): keys of
 * different purposes tell nothing about each other, even drawn from the same secret.
 */
export const deriveKey = async (secret: Uint8Array, purpose: string): Promise<Buffer> => {
  if (secret.byteLength < MIN_SECRET_BYTES)
    throw new Error(`A service secret needs at least ${MIN_SECRET_BYTES} bytes, this one has ${secret.byteLength}`);
  return Buffer.from(await hkdfAsync('sha256', secret, Buffer.alloc(0), `heap-braze-cohort-import ${purpose}`, 32));
};

/** The key of one purpose, derived once from `secret` when first needed. */
export const derivedKey = (secret: SecretSource, purpose: string): (() => Promise<Buffer>) =>
  once(async () => deriveKey(await secret(), purpose));

/**
 * Third-party tokens we must be able to send again (a Currents connector's bearer token)
 * cannot be hashed: they are sealed with AES-256-GCM under a key derived from a service
 * secret, so the table holds only `v1.<iv>.<ciphertext and tag>` (base64url). The
 * context (which connector the token belongs to) is authenticated with it: a sealed
 * token copied onto another connector does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { derivedKey, type SecretSource } from './secret.js';

const VERSION = 'v1';
/** NIST SP 800-38D: a 96-bit IV; random IVs are safe far beyond the number of tokens one key will seal (2^32). */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface TokenCipher {
  seal(token: string, context: string): Promise<string>;
  /** Throws if the sealed token was altered, belongs to another context or another key. */
  open(sealed: string, context: string): Promise<string>;
}

export const isSealedToken = (value: unknown): value is string =>
  typeof value === 'string' && value.startsWith(`${VERSION}.`);

export const createTokenCipher = (secret: SecretSource): TokenCipher => {
  const key = derivedKey(secret, 'connector token key v1');
  return {
    seal: async (token, context) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', await key(), iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const sealed = Buffer.concat([cipher.update(token, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
    },
    open: async (sealed, context) => {
      const [version, iv, body] = sealed.split('.');
      if (version !== VERSION || !iv || body === undefined) throw new Error('not a sealed token');
      const bytes = Buffer.from(body, 'base64url');
      if (bytes.length < TAG_BYTES) throw new Error('not a sealed token');
      const decipher = createDecipheriv('aes-256-gcm', await key(), Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    },
  };
};

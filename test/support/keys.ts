import { randomBytes } from 'node:crypto';
import { createKeyHasher, type KeyHasher } from '../../lib/workspaces/keys.js';

/**
 * A key hasher with a pepper of its own, and the hashes of `keys` under it, for in-memory
 * credential stores (hashing is asynchronous: the pepper is fetched when first needed).
 */
export const hashedKeys = async (
  keys: readonly string[],
): Promise<{ keyHasher: KeyHasher; hashKey: (key: string) => string }> => {
  const keyHasher = createKeyHasher(async () => randomBytes(32));
  const hashes = new Map(await Promise.all(keys.map(async (key) => [key, await keyHasher.hash(key)] as const)));
  return {
    keyHasher,
    hashKey: (key) => {
      const hash = hashes.get(key);
      if (hash === undefined) throw new Error(`no hash prepared for ${key}`);
      return hash;
    },
  };
};

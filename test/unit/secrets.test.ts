/**
 * Keys at 256 bits, their peppered hashes, the floor for keys a caller chooses, connector
 * tokens sealed with AES-256-GCM, and the local stack's secrets file.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateLocalSecrets, readLocalSecrets } from '../../local/secrets.js';
import { deriveKey, once } from '../../lib/secrets/secret.js';
import { createTokenCipher, isSealedToken } from '../../lib/secrets/token-cipher.js';
import {
  assertStrongKey,
  createKeyHasher,
  generateKey,
  KEY_HASH_PREFIX,
  keyHashesEqual,
  keyStrengthProblem,
  legacyKeyHash,
  WeakKeyError,
} from '../../lib/workspaces/keys.js';

const secret = () => {
  const bytes = randomBytes(32);
  return async () => bytes;
};

describe('generated keys', () => {
  it('carry 256 random bits as 64 hex digits, and pass the floor for chosen keys', () => {
    // Act
    const keys = Array.from({ length: 1_000 }, generateKey);

    // Assess
    for (const key of keys) {
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(keyStrengthProblem(key)).toBeUndefined();
    }
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('keys a caller chooses', () => {
  it.each([
    ['a UUID (122 random bits)', '6f1c1a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b', /at most 128 random bits/],
    ['32 hex digits (128 bits)', randomBytes(16).toString('hex'), /at most 128 random bits/],
    ['a word', 'heap-key', /at most/],
    ['spaces', `${generateKey()} x`, /printable ASCII without spaces/],
    ['a non-ASCII character', `${generateKey()}é`, /printable ASCII/],
    ['the empty string', '', /printable ASCII/],
    ['one character repeated', 'a'.repeat(64), /more than a third/],
    ['a long repetitive string', `${'ab'.repeat(40)}`, /more than a third/],
  ])('refuses %s', (_case, key, problem) => {
    // Act
    const refusal = () => assertStrongKey(key, 'data import key');

    // Assess
    expect(refusal).toThrow(WeakKeyError);
    expect(refusal).toThrow(/^The data import key given is too weak: /);
    expect(refusal).toThrow(problem);
    expect(refusal).toThrow(/openssl rand -hex 32/);
  });

  it.each([
    ['64 hex digits', randomBytes(32).toString('hex')],
    ['64 upper-case hex digits', randomBytes(32).toString('hex').toUpperCase()],
    ['43 base64url characters', randomBytes(32).toString('base64url')],
    ['two UUIDs without their dashes', `${crypto.randomUUID()}${crypto.randomUUID()}`.replaceAll('-', '')],
  ])('accepts %s', (_case, key) => {
    expect(keyStrengthProblem(key)).toBeUndefined();
    expect(assertStrongKey(key, 'REST API key')).toBe(key);
  });

  it('is a 400 with the reason when it is refused', () => {
    // Act
    const error = (() => {
      try {
        assertStrongKey('short', 'partner API key');
      } catch (caught: unknown) {
        return caught;
      }
    })() as WeakKeyError;

    // Assess
    expect(error).toBeInstanceOf(WeakKeyError);
    expect(error.statusCode).toBe(400);
    expect(error.what).toBe('partner API key');
  });
});

describe('key hashes', () => {
  it('are versioned HMACs that depend on the pepper, not the plain SHA-256 stored before', async () => {
    // Prepare
    const key = generateKey();
    const hasher = createKeyHasher(secret());
    const other = createKeyHasher(secret());

    // Act
    const hash = await hasher.hash(key);

    // Assess
    expect(hash).toMatch(new RegExp(`^${KEY_HASH_PREFIX}[0-9a-f]{64}$`));
    expect(await hasher.hash(key)).toBe(hash);
    expect(await other.hash(key)).not.toBe(hash);
    expect(hash).not.toContain(legacyKeyHash(key));
    expect(hash).not.toContain(key);
  });

  it('turn a legacy hash into the hash of the same key, without the key', async () => {
    // Prepare
    const key = generateKey();
    const hasher = createKeyHasher(secret());

    // Act
    const upgraded = await hasher.upgrade(legacyKeyHash(key));

    // Assess
    expect(upgraded).toBe(await hasher.hash(key));
    await expect(hasher.upgrade('v2:not-legacy')).rejects.toThrow(/not a legacy key hash/);
  });

  it('fetch the secret once, and again after a failed fetch', async () => {
    // Prepare
    let fetches = 0;
    const bytes = randomBytes(32);
    const hasher = createKeyHasher(async () => {
      fetches += 1;
      if (fetches === 1) throw new Error('ThrottlingException');
      return bytes;
    });

    // Act
    const failed = await hasher.hash('k').catch((error: Error) => error.message);
    await hasher.hash('k');
    await hasher.hash('l');

    // Assess
    expect(failed).toBe('ThrottlingException');
    expect(fetches).toBe(2);
  });

  it('refuse a secret shorter than 32 bytes', async () => {
    await expect(createKeyHasher(async () => randomBytes(16)).hash('k')).rejects.toThrow(/at least 32 bytes/);
  });

  it('compare in constant time, and never equal when empty or of another length', () => {
    expect(keyHashesEqual('v2:ab', 'v2:ab')).toBe(true);
    expect(keyHashesEqual('v2:ab', 'v2:ac')).toBe(false);
    expect(keyHashesEqual('v2:ab', 'v2:abc')).toBe(false);
    expect(keyHashesEqual('', '')).toBe(false);
  });
});

describe('service secrets', () => {
  it('derive keys that differ by purpose and by secret', async () => {
    // Prepare
    const material = randomBytes(32);

    // Act
    const pepper = await deriveKey(material, 'key hash pepper v2');
    const tokenKey = await deriveKey(material, 'connector token key v1');
    const otherPepper = await deriveKey(randomBytes(32), 'key hash pepper v2');

    // Assess
    expect(pepper).toHaveLength(32);
    expect(pepper.equals(tokenKey)).toBe(false);
    expect(pepper.equals(otherPepper)).toBe(false);
    expect(pepper.equals(await deriveKey(material, 'key hash pepper v2'))).toBe(true);
  });

  it('are loaded once while loading succeeds', async () => {
    // Prepare
    let loads = 0;
    const load = once(async () => ++loads);

    // Act
    const values = await Promise.all([load(), load(), load()]);

    // Assess
    expect(values).toEqual([1, 1, 1]);
    expect(loads).toBe(1);
  });
});

describe('sealed connector tokens', () => {
  it('open to the token, and are never the token nor twice the same', async () => {
    // Prepare
    const cipher = createTokenCipher(secret());
    const token = 'heap-currents-token-1234';

    // Act
    const sealed = await cipher.seal(token, 'ws#c1');
    const again = await cipher.seal(token, 'ws#c1');

    // Assess
    expect(isSealedToken(sealed)).toBe(true);
    expect(sealed).not.toContain(token);
    expect(sealed).not.toBe(again);
    expect(await cipher.open(sealed, 'ws#c1')).toBe(token);
    expect(await cipher.open(again, 'ws#c1')).toBe(token);
  });

  it('do not open for another connector, under another key, or once altered', async () => {
    // Prepare
    const source = secret();
    const cipher = createTokenCipher(source);
    const sealed = await cipher.seal('t0ken', 'ws#c1');
    const [version, iv, body] = sealed.split('.') as [string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = flipped[0]! ^ 1;

    // Act & Assess
    await expect(cipher.open(sealed, 'ws#c2')).rejects.toThrow();
    await expect(createTokenCipher(secret()).open(sealed, 'ws#c1')).rejects.toThrow();
    await expect(cipher.open(`${version}.${iv}.${flipped.toString('base64url')}`, 'ws#c1')).rejects.toThrow();
    await expect(cipher.open('t0ken', 'ws#c1')).rejects.toThrow(/not a sealed token/);
    await expect(cipher.open('v1.AAAA.AA', 'ws#c1')).rejects.toThrow(/not a sealed token/);
    expect(await createTokenCipher(source).open(sealed, 'ws#c1')).toBe('t0ken');
  });
});

describe("the local stack's secrets file", () => {
  it('is created once, owner-only, and read again as it is', async () => {
    // Prepare
    const file = join(await mkdtemp(join(tmpdir(), 'secrets-')), 'state', 'secrets.json');
    const key = generateKey();

    // Act
    const first = await loadOrCreateLocalSecrets(file);
    const hash = await createKeyHasher(first.keyPepper).hash(key);
    const contents = await readFile(file, 'utf8');
    const second = await loadOrCreateLocalSecrets(file);

    // Assess
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toBe(contents);
    expect(await createKeyHasher(second.keyPepper).hash(key)).toBe(hash);
    expect(await createKeyHasher(readLocalSecrets(file).keyPepper).hash(key)).toBe(hash);
    expect(Buffer.from(await first.connectorTokenKey()).equals(Buffer.from(await first.keyPepper()))).toBe(false);
  });

  it('is never created by a reader, which says what is missing', async () => {
    // Prepare
    const folder = await mkdtemp(join(tmpdir(), 'secrets-'));
    const garbled = join(folder, 'garbled.json');
    await writeFile(garbled, '{"keyPepper":1}');

    // Act & Assess
    await expect(readLocalSecrets(join(folder, 'none.json')).keyPepper()).rejects.toThrow(
      /No secrets file .*is the local stack running\?/,
    );
    await expect(readLocalSecrets(garbled).keyPepper()).rejects.toThrow(/is not a secrets file/);
  });
});

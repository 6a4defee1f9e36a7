/**
 * The local stack's service secrets (what Secrets Manager holds on AWS): generated at the
 * first start into a file beside the emulators' data (<data dir>/secrets.json, owner-only,
 * never committed: .local/ is ignored), and read again at every start, so keys hashed and
 * tokens sealed before a restart still match. It goes with the data: `npm start -- --reset`
 * deletes both; deleting only the file makes every stored key and token unusable.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MIN_SECRET_BYTES, once, type ServiceSecrets } from '../lib/secrets/secret.js';

interface SecretsFile {
  keyPepper: string;
  connectorTokenKey: string;
}

const generate = (): SecretsFile => ({
  keyPepper: randomBytes(MIN_SECRET_BYTES).toString('base64url'),
  connectorTokenKey: randomBytes(MIN_SECRET_BYTES).toString('base64url'),
});

const parse = (text: string, file: string): SecretsFile => {
  const parsed = JSON.parse(text) as Partial<SecretsFile>;
  if (typeof parsed.keyPepper !== 'string' || typeof parsed.connectorTokenKey !== 'string')
    throw new Error(`${file} is not a secrets file (keyPepper and connectorTokenKey expected)`);
  return { keyPepper: parsed.keyPepper, connectorTokenKey: parsed.connectorTokenKey };
};

const toSecrets = (read: () => Promise<SecretsFile>): ServiceSecrets => {
  const secrets = once(read);
  return {
    keyPepper: async () => Buffer.from((await secrets()).keyPepper, 'base64url'),
    connectorTokenKey: async () => Buffer.from((await secrets()).connectorTokenKey, 'base64url'),
  };
};

/** The secrets in `file`, created with fresh random values if there is none. */
export const loadOrCreateLocalSecrets = async (file: string): Promise<ServiceSecrets> => {
  await mkdir(dirname(file), { recursive: true });
  // 'wx': two stacks starting on one folder at once cannot both write a different pepper.
  await writeFile(file, JSON.stringify(generate(), null, 2), { flag: 'wx', mode: 0o600 }).then(
    () => chmod(file, 0o600),
    (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    },
  );
  const contents = parse(await readFile(file, 'utf8'), file);
  return toSecrets(async () => contents);
};

/** The secrets of a running local stack (the operator CLI): read when first needed, never created. */
export const readLocalSecrets = (file: string): ServiceSecrets =>
  toSecrets(async () => {
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new Error(`No secrets file ${file} (${(error as Error).message}): is the local stack running?`);
    });
    return parse(text, file);
  });

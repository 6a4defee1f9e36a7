/**
 * Service secrets on AWS: Secrets Manager secrets (infra/secrets.yml), read through
 * Powertools' parameters utility. Each function instance fetches a secret once, at its
 * first request that needs it, and keeps it (`once`): the pepper must never change
 * (every stored key hash depends on it), so Powertools' time-based cache would only add
 * fetches. Fetching lazily keeps the cold start free of calls (the bundles load anywhere).
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { once, type SecretSource, type ServiceSecrets } from '../secrets/secret.js';

export const createSecretsProvider = (client: SecretsManagerClient = new SecretsManagerClient({})): SecretsProvider =>
  new SecretsProvider({ awsSdkV3Client: client });

/** One secret's bytes (its SecretString as UTF-8, or its SecretBinary). */
export const secretsManagerSecret = (provider: SecretsProvider, secretId: string): SecretSource =>
  once(async () => {
    const value = await provider.get(secretId);
    if (typeof value === 'string' && value !== '') return Buffer.from(value, 'utf8');
    if (value instanceof Uint8Array && value.byteLength > 0) return value;
    throw new Error(`Secret ${secretId} has no value`);
  });

/**
 * The secrets of one deployed stage, by name (the operator CLI's way in; functions get the
 * ARNs in their environment): names as infra/secrets.yml gives them.
 */
export const stageSecrets = (provider: SecretsProvider, stackPrefix: string): ServiceSecrets => ({
  keyPepper: secretsManagerSecret(provider, `${stackPrefix}/key-pepper`),
  connectorTokenKey: secretsManagerSecret(provider, `${stackPrefix}/connector-token-key`),
});

import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { createSecretsProvider, secretsManagerSecret } from '../../lib/aws/secrets.js';
import { readKeyPepperSecretId, readQueueUrl, readRequestsPerHour, readTables } from '../../lib/config.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createKeyHasher } from '../../lib/workspaces/keys.js';
import { wireIngest } from './wire.js';

const tables = readTables();
const observability = await createObservability('ingest');
// The pepper of key hashes: fetched at the first request, kept for the instance's life.
const secrets = createSecretsProvider(traceClient(observability, new SecretsManagerClient({})));

export const { handler } = wireIngest({
  documents: traceClient(observability, createDocumentClient()),
  sqs: traceClient(observability, createSqsClient()),
  tables,
  queueUrl: readQueueUrl(),
  keyHasher: createKeyHasher(secretsManagerSecret(secrets, readKeyPepperSecretId())),
  requestsPerHour: readRequestsPerHour(),
  observability,
});

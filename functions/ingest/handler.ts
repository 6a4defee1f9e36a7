import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createSecretsProvider, secretsManagerSecret } from '../../lib/aws/secrets.js';
import { readKeyPepperSecretId, readQueueUrl, readRequestsPerHour, readTables } from '../../lib/config.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import { createKeyHasher } from '../../lib/workspaces/keys.js';
import { createIngestHandler } from './app.js';

const tables = readTables();
const observability = await createObservability('ingest');
const documents = traceClient(observability, createDocumentClient());
const sqs = traceClient(observability, createSqsClient());

// The pepper of key hashes: fetched at the first request, kept for the instance's life.
const secrets = createSecretsProvider(traceClient(observability, new SecretsManagerClient({})));
const keyHasher = createKeyHasher(secretsManagerSecret(secrets, readKeyPepperSecretId()));
const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces, keyHasher);

export const handler = createIngestHandler({
  credentials: workspaces,
  requestCounter: workspaces,
  requestsPerHour: readRequestsPerHour(),
  queue: new SqsCohortQueue(sqs, readQueueUrl()),
  observability,
});

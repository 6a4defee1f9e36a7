import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createSecretsProvider, secretsManagerSecret } from '../../lib/aws/secrets.js';
import { readCurrentsQueueUrl, readExportsConfig, readKeyPepperSecretId, readTables } from '../../lib/config.js';
import { DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import { SqsCurrentsQueue } from '../../lib/sqs/currents-queue.js';
import { DynamoExportStore } from '../../lib/dynamodb/export-store.js';
import { S3BlobStore } from '../../lib/s3/blob-store.js';
import { SqsExportQueue } from '../../lib/sqs/export-queue.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import { DynamoSegmentStore } from '../../lib/dynamodb/segment-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createKeyHasher } from '../../lib/workspaces/keys.js';
import { readCampaignsApiConfig } from '../../lib/campaigns/config.js';
import { createCampaignService } from '../../lib/campaigns/service.js';
import { DynamoCampaignStore } from '../../lib/dynamodb/campaign-store.js';
import { SafeHttpClient } from '../../lib/webhooks/safe-http.js';
import { createApiHandler } from './app.js';
import { fileURLToPath } from 'node:url';
import { folderSite } from '../../lib/http/static-site.js';

const tables = readTables();
const exportsConfig = readExportsConfig();
const observability = await createObservability('api');
const documents = traceClient(observability, createDocumentClient());
const sqs = traceClient(observability, createSqsClient());
const memberships = new DynamoMembershipStore(documents, tables.cohorts);
const users = new DynamoUserStore(documents, tables.users);
const segments = new DynamoSegmentStore(documents, tables.cohorts);
const campaignsConfig = readCampaignsApiConfig();
// The pepper of key hashes: fetched at the first request, kept for the instance's life. The API never
// opens connector tokens (their store here has no cipher).
const secrets = createSecretsProvider(traceClient(observability, new SecretsManagerClient({})));
const keyHasher = createKeyHasher(secretsManagerSecret(secrets, readKeyPepperSecretId()));

const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces, keyHasher);

export const handler = createApiHandler({
  credentials: workspaces,
  workspaces,
  // The console's files, copied beside the bundle by scripts/build.ts (dist/api/console).
  console: folderSite(fileURLToPath(new URL('./console/', import.meta.url))),
  users,
  memberships,
  cohorts: memberships,
  segments,
  campaigns: createCampaignService({
    campaigns: new DynamoCampaignStore(documents, campaignsConfig.table),
    segments,
    users,
    // Test sends go through the same safe client as the sender.
    webhooks: new SafeHttpClient({ allowList: campaignsConfig.allowList }),
    clock: () => new Date(),
  }),
  segmentSources: { memberships, users },
  currents: {
    connectors: new DynamoConnectorStore(documents, tables.cohorts),
    queue: new SqsCurrentsQueue(sqs, readCurrentsQueueUrl()),
  },
  exports: {
    store: new DynamoExportStore(documents, tables.cohorts),
    // Only the export routes write to S3: its client loads on the first export, not at cold start.
    blobs: new S3BlobStore(
      async () => traceClient(observability, new (await import('@aws-sdk/client-s3')).S3Client({})),
      exportsConfig.bucket,
    ),
    queue: new SqsExportQueue(sqs, exportsConfig.queueUrl),
  },
  observability,
});

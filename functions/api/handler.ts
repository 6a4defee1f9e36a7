import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { fileURLToPath } from 'node:url';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { createSecretsProvider, secretsManagerSecret } from '../../lib/aws/secrets.js';
import { readCampaignsApiConfig } from '../../lib/campaigns/config.js';
import { readCurrentsQueueUrl, readExportsConfig, readKeyPepperSecretId, readTables } from '../../lib/config.js';
import { folderSite } from '../../lib/http/static-site.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { S3BlobStore } from '../../lib/s3/blob-store.js';
import { SafeHttpClient } from '../../lib/webhooks/safe-http.js';
import { createKeyHasher } from '../../lib/workspaces/keys.js';
import { wireApi } from './wire.js';

const tables = readTables();
const exportsConfig = readExportsConfig();
const observability = await createObservability('api');
const campaignsConfig = readCampaignsApiConfig();
// The pepper of key hashes: fetched at the first request, kept for the instance's life.
const secrets = createSecretsProvider(traceClient(observability, new SecretsManagerClient({})));

export const { handler } = wireApi({
  documents: traceClient(observability, createDocumentClient()),
  sqs: traceClient(observability, createSqsClient()),
  tables,
  keyHasher: createKeyHasher(secretsManagerSecret(secrets, readKeyPepperSecretId())),
  currentsQueueUrl: readCurrentsQueueUrl(),
  exports: {
    // Only the export routes write to S3: its client loads on the first export, not at cold start.
    blobs: new S3BlobStore(
      async () => traceClient(observability, new (await import('@aws-sdk/client-s3')).S3Client({})),
      exportsConfig.bucket,
    ),
    queueUrl: exportsConfig.queueUrl,
  },
  campaigns: {
    table: campaignsConfig.table,
    sendQueueUrl: campaignsConfig.sendQueueUrl,
    workQueueUrl: campaignsConfig.workQueueUrl,
    // Test sends go through the same safe client as the sender: https only, the operator's allow-list.
    webhooks: new SafeHttpClient({ allowList: campaignsConfig.allowList }),
    clock: () => new Date(),
  },
  // The console's files, copied beside the bundle by scripts/build.ts (dist/api/console).
  console: folderSite(fileURLToPath(new URL('./console/', import.meta.url))),
  observability,
});

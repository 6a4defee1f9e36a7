import { S3Client } from '@aws-sdk/client-s3';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readExportsConfig, readTables } from '../../lib/config.js';
import { DynamoExportStore } from '../../lib/dynamodb/export-store.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { DynamoSegmentStore } from '../../lib/dynamodb/segment-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { S3BlobStore } from '../../lib/s3/blob-store.js';
import { SqsExportQueue } from '../../lib/sqs/export-queue.js';
import { createExportHandler } from './app.js';

const tables = readTables();
const exportsConfig = readExportsConfig();
const observability = await createObservability('export');
const documents = traceClient(observability, createDocumentClient());

export const handler = createExportHandler({
  memberships: new DynamoMembershipStore(documents, tables.cohorts),
  users: new DynamoUserStore(documents, tables.users),
  exports: new DynamoExportStore(documents, tables.cohorts),
  segments: new DynamoSegmentStore(documents, tables.cohorts),
  blobs: new S3BlobStore(traceClient(observability, new S3Client({})), exportsConfig.bucket),
  queue: new SqsExportQueue(traceClient(observability, createSqsClient()), exportsConfig.queueUrl),
  observability,
});

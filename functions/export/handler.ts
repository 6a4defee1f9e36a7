import { S3Client } from '@aws-sdk/client-s3';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readExportsConfig, readTables } from '../../lib/config.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { S3BlobStore } from '../../lib/s3/blob-store.js';
import { wireExport } from './wire.js';

const tables = readTables();
const exportsConfig = readExportsConfig();
const observability = await createObservability('export');

export const { handler } = wireExport({
  documents: traceClient(observability, createDocumentClient()),
  sqs: traceClient(observability, createSqsClient()),
  tables,
  queueUrl: exportsConfig.queueUrl,
  blobs: new S3BlobStore(traceClient(observability, new S3Client({})), exportsConfig.bucket),
  observability,
});

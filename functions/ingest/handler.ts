import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readQueueUrl, readTables } from '../../lib/config.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import { createObservability } from '../../lib/observability.js';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import { createIngestHandler } from './app.js';

const tables = readTables();
const observability = createObservability('ingest');
const documents = observability.tracer.captureAWSv3Client(createDocumentClient());
const sqs = observability.tracer.captureAWSv3Client(createSqsClient());

export const handler = createIngestHandler({
  credentials: new DynamoWorkspaceStore(documents, tables.workspaces),
  queue: new SqsCohortQueue(sqs, readQueueUrl()),
  observability,
});

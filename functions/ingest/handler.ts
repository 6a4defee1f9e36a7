import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readQueueUrl, readRequestsPerHour, readTables } from '../../lib/config.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import { createIngestHandler } from './app.js';

const tables = readTables();
const observability = await createObservability('ingest');
const documents = traceClient(observability, createDocumentClient());
const sqs = traceClient(observability, createSqsClient());

const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces);

export const handler = createIngestHandler({
  credentials: workspaces,
  requestCounter: workspaces,
  requestsPerHour: readRequestsPerHour(),
  queue: new SqsCohortQueue(sqs, readQueueUrl()),
  observability,
});

import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readQueueUrl, readTables } from '../../lib/config.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { wireSync } from './wire.js';

const tables = readTables();
const observability = await createObservability('sync');

export const { handler } = wireSync({
  documents: traceClient(observability, createDocumentClient()),
  sqs: traceClient(observability, createSqsClient()),
  tables,
  queueUrl: readQueueUrl(),
  observability,
});

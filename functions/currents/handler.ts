import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readCurrentsQueueUrl, readTables } from '../../lib/config.js';
import { DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import { createObservability } from '../../lib/observability.js';
import { createCurrentsHandler } from './app.js';

const tables = readTables();
const queueUrl = readCurrentsQueueUrl();
const observability = createObservability('currents');
const documents = observability.tracer.captureAWSv3Client(createDocumentClient());
const sqs = observability.tracer.captureAWSv3Client(createSqsClient());

export const handler = createCurrentsHandler({
  connectors: new DynamoConnectorStore(documents, tables.cohorts),
  retryLater: async (receiptHandle, seconds) => {
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  },
  observability,
});

import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readCurrentsQueueUrl, readTables } from '../../lib/config.js';
import { DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createCurrentsHandler } from './app.js';

const tables = readTables();
const queueUrl = readCurrentsQueueUrl();
const observability = await createObservability('currents');
const documents = traceClient(observability, createDocumentClient());
const sqs = traceClient(observability, createSqsClient());

export const handler = createCurrentsHandler({
  connectors: new DynamoConnectorStore(documents, tables.cohorts),
  retryLater: async (receiptHandle, seconds) => {
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  },
  observability,
});

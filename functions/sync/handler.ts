import { createDocumentClient } from '../../lib/aws/clients.js';
import { readQueueUrl, readTables } from '../../lib/config.js';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createSyncHandler } from './app.js';

const tables = readTables();
const observability = await createObservability('sync');
const documents = traceClient(observability, createDocumentClient());

export const handler = createSyncHandler({
  directory: new DynamoUserStore(documents, tables.users),
  memberships: new DynamoMembershipStore(documents, tables.cohorts),
  observability,
  requeue: new SqsCohortQueue(traceClient(observability, new SQSClient({})), readQueueUrl()),
});

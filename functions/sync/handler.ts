import { createDocumentClient } from '../../lib/aws/clients.js';
import { readQueueUrl, readEventsTopicArn, readTables } from '../../lib/config.js';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import { SnsMembershipEventPublisher } from '../../lib/sns/membership-events.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createSyncHandler } from './app.js';

const tables = readTables();
const observability = await createObservability('sync');
const documents = traceClient(observability, createDocumentClient());
const sns = traceClient(observability, new SNSClient({}));
const users = new DynamoUserStore(documents, tables.users);

export const handler = createSyncHandler({
  directory: users,
  memberships: new DynamoMembershipStore(documents, tables.cohorts),
  events: { publisher: new SnsMembershipEventPublisher(sns, readEventsTopicArn()), profiles: users },
  observability,
  requeue: new SqsCohortQueue(traceClient(observability, new SQSClient({})), readQueueUrl()),
});

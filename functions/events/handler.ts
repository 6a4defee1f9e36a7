import { createDocumentClient } from '../../lib/aws/clients.js';
import { readEventsTopicArn, readTables } from '../../lib/config.js';
import { SNSClient } from '@aws-sdk/client-sns';
import { SnsMembershipEventPublisher } from '../../lib/sns/membership-events.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createEventsHandler } from './app.js';

const tables = readTables();
const observability = await createObservability('events');
const documents = traceClient(observability, createDocumentClient());

const memberships = new DynamoMembershipStore(documents, tables.cohorts);

export const handler = createEventsHandler({
  sources: { profiles: new DynamoUserStore(documents, tables.users), cohorts: memberships, orphans: memberships },
  publisher: new SnsMembershipEventPublisher(traceClient(observability, new SNSClient({})), readEventsTopicArn()),
  observability,
});

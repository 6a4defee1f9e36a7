import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readTables } from '../../lib/config.js';
import { readCampaignsConfig } from '../../lib/campaigns/config.js';
import { createJourneys } from '../../lib/campaigns/journeys.js';
import { DynamoCampaignStore, DynamoMembershipReader } from '../../lib/dynamodb/campaign-store.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { SqsSendQueue, SqsWorkQueue } from '../../lib/sqs/campaign-queues.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createCampaignsHandler } from './app.js';

const tables = readTables();
const config = readCampaignsConfig();
const observability = await createObservability('campaigns');
const documents = traceClient(observability, createDocumentClient());
const sqs = traceClient(observability, createSqsClient());

export const handler = createCampaignsHandler({
  journeys: createJourneys({
    campaigns: new DynamoCampaignStore(documents, config.table),
    memberships: new DynamoMembershipReader(documents, tables.cohorts),
    segmentSources: {
      memberships: new DynamoMembershipStore(documents, tables.cohorts),
      users: new DynamoUserStore(documents, tables.users),
    },
    sends: new SqsSendQueue(sqs, config.sendQueueUrl),
    work: new SqsWorkQueue(sqs, config.workQueueUrl),
    clock: () => new Date(),
  }),
  observability,
});

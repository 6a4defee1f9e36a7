import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readTables } from '../../lib/config.js';
import { readCampaignsConfig } from '../../lib/campaigns/config.js';
import { createSender } from '../../lib/campaigns/sender.js';
import { DynamoCampaignStore, DynamoMembershipReader } from '../../lib/dynamodb/campaign-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { SafeHttpClient } from '../../lib/webhooks/safe-http.js';
import { retryLaterOn } from '../../lib/sqs/retry-later.js';
import { SqsSendQueue } from '../../lib/sqs/campaign-queues.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { createSenderHandler, reportDestinationChange } from './app.js';

const tables = readTables();
const config = readCampaignsConfig();
const observability = await createObservability('sender');
const documents = traceClient(observability, createDocumentClient());
const sqs = traceClient(observability, createSqsClient());

export const handler = createSenderHandler({
  sender: createSender({
    campaigns: new DynamoCampaignStore(documents, config.table),
    memberships: new DynamoMembershipReader(documents, tables.cohorts),
    users: new DynamoUserStore(documents, tables.users),
    // https only in AWS; the operator's allow-list admits named internal destinations.
    webhooks: new SafeHttpClient({ allowList: config.allowList }),
    clock: () => new Date(),
    // A paced message too late for its slot is queued again for a new one (the send-rate limit).
    sends: new SqsSendQueue(sqs, config.sendQueueUrl),
    // The destination breaker's defaults (lib/webhooks/breaker.ts), per instance, in memory.
    onDestinationChange: reportDestinationChange(observability),
  }),
  retryLater: retryLaterOn(sqs, config.sendQueueUrl),
  observability,
});

/**
 * The sender function's object graph, built once: its handler on AWS (handler.ts) and on the
 * local stack (local/campaigns.ts) are both this function over the clients, names, webhook
 * client and clock that differ. Also returns the sender, which the local stack's tests drive.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { readCampaignsConfig } from '../../lib/campaigns/config.js';
import { createSender, type SenderPorts } from '../../lib/campaigns/sender.js';
import type { Tables } from '../../lib/config.js';
import { DynamoCampaignStore, DynamoMembershipReader } from '../../lib/dynamodb/campaign-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { SqsSendQueue } from '../../lib/sqs/campaign-queues.js';
import { retryLaterOn } from '../../lib/sqs/retry-later.js';
import { createSenderHandler, reportDestinationChange, type SenderDependencies } from './app.js';

export interface SenderWiring extends Pick<SenderDependencies, 'observability'> {
  documents: DynamoDBDocumentClient;
  /**
   * The client of the campaigns table and the membership checks, when it is not `documents`
   * (the local stack's limits model measures the campaign functions' own use); profile reads
   * stay on `documents`.
   */
  campaignDocuments?: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: Pick<Tables, 'users' | 'cohorts'>;
  config: Pick<ReturnType<typeof readCampaignsConfig>, 'table' | 'sendQueueUrl'>;
  /** The webhook client (lib/webhooks/safe-http.ts: https only on AWS, the operator's allow-list). */
  webhooks: SenderPorts['webhooks'];
  clock: () => Date;
  /** The sender's tuning (the local stack's tests shorten it); absent: its defaults, as on AWS. */
  tuning?: Pick<
    SenderPorts,
    'leaseClock' | 'retry' | 'leaseMs' | 'cacheTtlMs' | 'breaker' | 'concurrency' | 'startMarginMs'
  >;
}

export const wireSender = ({
  documents,
  campaignDocuments = documents,
  sqs,
  tables,
  config,
  webhooks,
  clock,
  tuning,
  observability,
}: SenderWiring) => {
  const sender = createSender({
    campaigns: new DynamoCampaignStore(campaignDocuments, config.table),
    memberships: new DynamoMembershipReader(campaignDocuments, tables.cohorts),
    users: new DynamoUserStore(documents, tables.users),
    webhooks,
    clock,
    // A paced message too late for its slot is queued again for a new one (the send-rate limit).
    sends: new SqsSendQueue(sqs, config.sendQueueUrl),
    ...tuning,
    // The destination breaker's defaults (lib/webhooks/breaker.ts) unless tuned, per instance, in memory.
    onDestinationChange: reportDestinationChange(observability),
  });
  return {
    handler: createSenderHandler({ sender, retryLater: retryLaterOn(sqs, config.sendQueueUrl), observability }),
    sender,
  };
};

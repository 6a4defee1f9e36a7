/**
 * The campaigns function's object graph, built once: its handler on AWS (handler.ts) and on
 * the local stack (local/campaigns.ts) are both this function over the clients, names and
 * clock that differ. Also returns the journeys, whose minute tick the local stack runs.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { readCampaignsConfig } from '../../lib/campaigns/config.js';
import { createEventEntries } from '../../lib/campaigns/event-entries.js';
import { createJourneys, type JourneyPorts } from '../../lib/campaigns/journeys.js';
import type { Tables } from '../../lib/config.js';
import { DynamoCampaignStore, DynamoMembershipReader } from '../../lib/dynamodb/campaign-store.js';
import { DynamoEventTriggerIndex } from '../../lib/dynamodb/event-trigger-store.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { SqsSendQueue, SqsWorkQueue } from '../../lib/sqs/campaign-queues.js';
import { createCampaignsHandler, type CampaignsDependencies } from './app.js';

export interface CampaignsWiring extends Pick<CampaignsDependencies, 'observability'> {
  documents: DynamoDBDocumentClient;
  /**
   * The client of the campaigns table and the membership checks, when it is not `documents`
   * (the local stack's limits model measures the campaign functions' own use); segment reads
   * stay on `documents`.
   */
  campaignDocuments?: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: Pick<Tables, 'users' | 'cohorts'>;
  config: Pick<ReturnType<typeof readCampaignsConfig>, 'table' | 'sendQueueUrl' | 'workQueueUrl'>;
  clock: () => Date;
  /** The journeys' tuning (the local stack's tests shorten it); absent: their defaults. */
  tuning?: Pick<JourneyPorts, 'horizonMs' | 'cacheTtlMs'>;
}

export const wireCampaigns = ({
  documents,
  campaignDocuments = documents,
  sqs,
  tables,
  config,
  clock,
  tuning,
  observability,
}: CampaignsWiring) => {
  const campaigns = new DynamoCampaignStore(campaignDocuments, config.table);
  const journeys = createJourneys({
    campaigns,
    memberships: new DynamoMembershipReader(campaignDocuments, tables.cohorts),
    segmentSources: {
      memberships: new DynamoMembershipStore(documents, tables.cohorts),
      users: new DynamoUserStore(documents, tables.users),
    },
    sends: new SqsSendQueue(sqs, config.sendQueueUrl),
    work: new SqsWorkQueue(sqs, config.workQueueUrl),
    clock,
    ...tuning,
  });
  const eventEntries = createEventEntries({
    campaigns,
    index: new DynamoEventTriggerIndex(campaignDocuments, config.table),
    release: (messages) => journeys.release(messages),
    clock,
    ...(tuning?.cacheTtlMs !== undefined ? { cacheTtlMs: tuning.cacheTtlMs } : {}),
  });
  return { handler: createCampaignsHandler({ journeys, eventEntries, observability }), journeys };
};

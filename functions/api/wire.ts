/**
 * The API function's object graph, built once: its handler on AWS (handler.ts, exports to S3)
 * and on the local stack (local/stack.ts, exports to a folder) are both this function over the
 * clients, names, secrets and webhook client that differ. Also returns the campaign service,
 * which the local stack's tests call directly.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createCampaignService, type CampaignServicePorts } from '../../lib/campaigns/service.js';
import type { Tables } from '../../lib/config.js';
import { DynamoCampaignStore, DynamoMembershipReader } from '../../lib/dynamodb/campaign-store.js';
import { DynamoConnectorStore } from '../../lib/dynamodb/connector-store.js';
import { DynamoEventTriggerIndex } from '../../lib/dynamodb/event-trigger-store.js';
import { DynamoExportStore } from '../../lib/dynamodb/export-store.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoSegmentStore } from '../../lib/dynamodb/segment-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import type { BlobStore } from '../../lib/segments/ports.js';
import { SqsCurrentsQueue } from '../../lib/sqs/currents-queue.js';
import { SqsExportQueue } from '../../lib/sqs/export-queue.js';
import { SqsSendQueue, SqsWorkQueue } from '../../lib/sqs/campaign-queues.js';
import { createJourneys } from '../../lib/campaigns/journeys.js';
import type { SendMessage } from '../../lib/campaigns/messages.js';
import type { KeyHasher } from '../../lib/workspaces/keys.js';
import { createApiHandler, type ApiDependencies } from './app.js';

export interface ApiWiring
  extends Pick<ApiDependencies, 'observability' | 'console' | 'segmentSizePolicy' | 'credentialCacheTtlMs'> {
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: Tables;
  /** Hashes keys with the service's pepper (Secrets Manager on AWS, a local file on the stack). */
  keyHasher: KeyHasher;
  /** The Currents queue (dead letters replayed from the API go back to it). */
  currentsQueueUrl: string;
  /** Where segment exports are written (S3 on AWS, a folder on the stack), and their queue. */
  exports: { blobs: BlobStore; queueUrl: string };
  campaigns: Pick<CampaignServicePorts, 'webhooks' | 'clock' | 'allowHttp'> & {
    table: string;
    /** Where API triggers release their messages, and a broadcast's chunks (absent: the trigger routes answer 404). */
    sendQueueUrl?: string;
    workQueueUrl?: string;
    /** How long the release reuses a definition (default 10 s; the local stack's tests less). */
    cacheTtlMs?: number;
    /** Steps due within this are queued, later ones kept as timers (default: the journeys'). */
    horizonMs?: number;
  };
}

export const wireApi = ({
  documents,
  sqs,
  tables,
  keyHasher,
  currentsQueueUrl,
  exports,
  campaigns: { table: campaignsTable, sendQueueUrl, workQueueUrl, cacheTtlMs, horizonMs, ...campaignOptions },
  ...options
}: ApiWiring) => {
  const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces, keyHasher);
  const memberships = new DynamoMembershipStore(documents, tables.cohorts);
  const users = new DynamoUserStore(documents, tables.users);
  const segments = new DynamoSegmentStore(documents, tables.cohorts);
  const campaignStore = new DynamoCampaignStore(documents, campaignsTable);
  // API triggers release through the journeys' own release (pacing, the horizon, timers).
  const dispatch =
    sendQueueUrl && workQueueUrl
      ? (() => {
          const work = new SqsWorkQueue(sqs, workQueueUrl);
          const journeys = createJourneys({
            campaigns: campaignStore,
            // Not read by a release (only by membership events): the cohorts table's reader all the same.
            memberships: new DynamoMembershipReader(documents, tables.cohorts),
            segmentSources: { memberships, users },
            sends: new SqsSendQueue(sqs, sendQueueUrl),
            work,
            clock: campaignOptions.clock,
            ...(cacheTtlMs !== undefined ? { cacheTtlMs } : {}),
            ...(horizonMs !== undefined ? { horizonMs } : {}),
          });
          return { release: (messages: SendMessage[]) => journeys.release(messages), work };
        })()
      : undefined;
  const campaigns = createCampaignService({
    campaigns: campaignStore,
    segments,
    users,
    ...campaignOptions,
    ...(dispatch ? { dispatch } : {}),
    eventTriggers: new DynamoEventTriggerIndex(documents, campaignsTable),
  });
  return {
    handler: createApiHandler({
      credentials: workspaces,
      workspaces,
      users,
      memberships,
      cohorts: memberships,
      segments,
      campaigns,
      segmentSources: { memberships, users },
      // Tracked events go to the campaigns function through its work queue (absent: they enter nothing).
      ...(dispatch ? { campaignEvents: dispatch.work } : {}),
      currents: {
        // The API never opens connector tokens: its store has no cipher.
        connectors: new DynamoConnectorStore(documents, tables.cohorts),
        queue: new SqsCurrentsQueue(sqs, currentsQueueUrl),
      },
      exports: {
        store: new DynamoExportStore(documents, tables.cohorts),
        blobs: exports.blobs,
        queue: new SqsExportQueue(sqs, exports.queueUrl),
      },
      ...options,
    }),
    campaigns,
  };
};

/**
 * The sync function's object graph, built once: its handler on AWS (handler.ts) and on the
 * local stack (local/stack.ts) are both this function over the clients and names that differ.
 * Also returns its membership store, whose adaptive transaction limit the benchmark reads.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { UserDirectory } from '../../lib/cohorts/matching.js';
import { AdaptiveLimit, type AdaptiveLimitOptions } from '../../lib/concurrency.js';
import type { Tables } from '../../lib/config.js';
import { DynamoMembershipStore, type MembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import { createSyncHandler, type SyncDependencies } from './app.js';

export interface SyncWiring extends Pick<SyncDependencies, 'observability' | 'requeueDelayBaseSeconds'> {
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: Pick<Tables, 'users' | 'cohorts'>;
  /** The cohort changes queue, where a request the sync cannot finish under load goes back. */
  queueUrl: string;
  /** The limit on transactions in flight (default: TRANSACTION_LOAD, lib/dynamodb/membership-store.ts). */
  transactionLoad?: AdaptiveLimitOptions;
  /** Test seams: wrap the ports (the local stack's fault injection). */
  wrapDirectory?: (directory: UserDirectory) => UserDirectory;
  wrapMemberships?: (store: MembershipStore) => MembershipStore;
}

export const wireSync = ({
  documents,
  sqs,
  tables,
  queueUrl,
  transactionLoad,
  wrapDirectory = (directory) => directory,
  wrapMemberships = (store) => store,
  ...options
}: SyncWiring) => {
  const memberships = new DynamoMembershipStore(
    documents,
    tables.cohorts,
    transactionLoad && new AdaptiveLimit(transactionLoad),
  );
  return {
    handler: createSyncHandler({
      directory: wrapDirectory(new DynamoUserStore(documents, tables.users)),
      memberships: wrapMemberships(memberships),
      requeue: new SqsCohortQueue(sqs, queueUrl),
      ...options,
    }),
    memberships,
  };
};

/**
 * The ingest function's object graph, built once: its handler on AWS (handler.ts, from the
 * Lambda environment) and on the local stack (local/stack.ts, from its emulators) are both
 * this function over the clients, names and secrets that differ between the two.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CohortQueue } from '../../lib/cohorts/ingest.js';
import type { Tables } from '../../lib/config.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import { SqsCohortQueue } from '../../lib/sqs/cohort-queue.js';
import type { KeyHasher } from '../../lib/workspaces/keys.js';
import { createIngestHandler, type IngestDependencies } from './app.js';

export interface IngestWiring
  extends Pick<IngestDependencies, 'observability' | 'requestsPerHour' | 'credentialCacheTtlMs' | 'clock'> {
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: Pick<Tables, 'workspaces'>;
  /** The cohort changes queue. */
  queueUrl: string;
  /** Hashes keys with the service's pepper (Secrets Manager on AWS, a local file on the stack). */
  keyHasher: KeyHasher;
  /** Test seam: wraps the queue (the local stack's fault injection). */
  wrapQueue?: (queue: CohortQueue) => CohortQueue;
}

export const wireIngest = ({
  documents,
  sqs,
  tables,
  queueUrl,
  keyHasher,
  wrapQueue = (queue) => queue,
  ...options
}: IngestWiring) => {
  const workspaces = new DynamoWorkspaceStore(documents, tables.workspaces, keyHasher);
  return {
    handler: createIngestHandler({
      credentials: workspaces,
      requestCounter: workspaces,
      queue: wrapQueue(new SqsCohortQueue(sqs, queueUrl)),
      ...options,
    }),
  };
};

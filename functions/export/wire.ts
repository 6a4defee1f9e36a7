/**
 * The export function's object graph, built once: its handler on AWS (handler.ts, writing to
 * S3) and on the local stack (local/stack.ts, writing to a folder) are both this function over
 * the clients, names and blob store that differ.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Tables } from '../../lib/config.js';
import { DynamoExportStore } from '../../lib/dynamodb/export-store.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoSegmentStore } from '../../lib/dynamodb/segment-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { SqsExportQueue } from '../../lib/sqs/export-queue.js';
import { createExportHandler, type ExportDependencies } from './app.js';

export interface ExportWiring extends Pick<ExportDependencies, 'observability' | 'blobs' | 'sizePolicy'> {
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: Pick<Tables, 'users' | 'cohorts'>;
  /** The segment exports queue (size jobs and exports that continue in a new invocation). */
  queueUrl: string;
}

export const wireExport = ({ documents, sqs, tables, queueUrl, ...options }: ExportWiring) => ({
  handler: createExportHandler({
    memberships: new DynamoMembershipStore(documents, tables.cohorts),
    users: new DynamoUserStore(documents, tables.users),
    exports: new DynamoExportStore(documents, tables.cohorts),
    segments: new DynamoSegmentStore(documents, tables.cohorts),
    queue: new SqsExportQueue(sqs, queueUrl),
    ...options,
  }),
});

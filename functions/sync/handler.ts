import { createDocumentClient } from '../../lib/aws/clients.js';
import { readTables } from '../../lib/config.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { createObservability } from '../../lib/observability.js';
import { createSyncHandler } from './app.js';

const tables = readTables();
const observability = createObservability('sync');
const documents = observability.tracer.captureAWSv3Client(createDocumentClient());

export const handler = createSyncHandler({
  directory: new DynamoUserStore(documents, tables.users),
  memberships: new DynamoMembershipStore(documents, tables.cohorts),
  observability,
});

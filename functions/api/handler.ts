import { createDocumentClient } from '../../lib/aws/clients.js';
import { readTables } from '../../lib/config.js';
import { DynamoMembershipStore } from '../../lib/dynamodb/membership-store.js';
import { DynamoUserStore } from '../../lib/dynamodb/user-store.js';
import { DynamoWorkspaceStore } from '../../lib/dynamodb/workspace-store.js';
import { createObservability } from '../../lib/observability.js';
import { createApiHandler } from './app.js';

const tables = readTables();
const observability = createObservability('api');
const documents = observability.tracer.captureAWSv3Client(createDocumentClient());
const memberships = new DynamoMembershipStore(documents, tables.cohorts);

export const handler = createApiHandler({
  credentials: new DynamoWorkspaceStore(documents, tables.workspaces),
  users: new DynamoUserStore(documents, tables.users),
  memberships,
  cohorts: memberships,
  observability,
});

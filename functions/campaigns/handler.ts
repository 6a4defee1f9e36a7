import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readCampaignsConfig } from '../../lib/campaigns/config.js';
import { readTables } from '../../lib/config.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { wireCampaigns } from './wire.js';

const tables = readTables();
const config = readCampaignsConfig();
const observability = await createObservability('campaigns');

export const { handler } = wireCampaigns({
  documents: traceClient(observability, createDocumentClient()),
  sqs: traceClient(observability, createSqsClient()),
  tables,
  config,
  clock: () => new Date(),
  observability,
});

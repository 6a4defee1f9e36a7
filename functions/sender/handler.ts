import { createDocumentClient, createSqsClient } from '../../lib/aws/clients.js';
import { readCampaignsConfig } from '../../lib/campaigns/config.js';
import { readTables } from '../../lib/config.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { SafeHttpClient } from '../../lib/webhooks/safe-http.js';
import { wireSender } from './wire.js';

const tables = readTables();
const config = readCampaignsConfig();
const observability = await createObservability('sender');

export const { handler } = wireSender({
  documents: traceClient(observability, createDocumentClient()),
  sqs: traceClient(observability, createSqsClient()),
  tables,
  config,
  // https only in AWS; the operator's allow-list admits named internal destinations.
  webhooks: new SafeHttpClient({ allowList: config.allowList }),
  clock: () => new Date(),
  observability,
});

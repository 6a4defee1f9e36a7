import { SNSClient } from '@aws-sdk/client-sns';
import { createDocumentClient } from '../../lib/aws/clients.js';
import { readEventsTopicArn, readTables } from '../../lib/config.js';
import { createObservability, traceClient } from '../../lib/observability.js';
import { wireEvents } from './wire.js';

const tables = readTables();
const observability = await createObservability('events');

export const { handler } = wireEvents({
  documents: traceClient(observability, createDocumentClient()),
  sns: traceClient(observability, new SNSClient({})),
  tables,
  topicArn: readEventsTopicArn(),
  observability,
});
